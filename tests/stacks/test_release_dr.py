"""No `pulumi up` while failed over: deploy and rollback read which region's database takes
writes before their backup and `up` (--skip-backup or not), and stop unless it is the stack's
configured primary region. The staging stack's two databases in moto, in the states
`utp-infra dr` leaves them (tests/stacks/test_snapshots.py), with the release over the
in-memory stack, a real HTTP health endpoint and a loopback Slack webhook."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from click.testing import CliRunner

from stacks.health_gate import http_health_probe
from stacks.notify import SlackNotifier
from stacks.release import IMAGE_TAG_KEY, Release, ReleaseResult
from stacks.release_cli import build_commands
from stacks.release_dr import not_failed_over
from stacks.snapshots import rds_snapshot_backup
from stacks.versions import running_version
from tests.stacks.in_memory_stack import InMemoryStack
from tests.stacks.test_release import FakeService, _cv, _stack, fast_gate, loopback, stepped_clock
from tests.stacks.test_snapshots import (
    EAST,
    WEST,
    Aws,
    _failed_back,
    _failed_over,
    _failed_over_east_down,
    _failover_half_way,
    _fence_deferred_east_back,
    _new_snapshot,
    _rds,
    _reconciled,
    _snapshots,
    _west_down,
    _west_renamed_aside,
    aws,
)

__all__ = ["aws", "loopback"]  # the fixtures, shared with test_snapshots.py and test_release.py

FAILED_OVER = [
    pytest.param(_failed_over, id="failed-over"),
    pytest.param(_failed_over_east_down, id="failed-over-us-east-1-down"),
]


def _release(stack: InMemoryStack, service: FakeService, aws: Aws) -> Release:
    """The release as `utp-infra` wires it, its AWS calls going to moto."""
    return Release(
        stack,
        "staging",
        validate_config=lambda name: None,
        policy_check=lambda name: [],
        dr_check=partial(not_failed_over, client_factory=aws.client),
        backup=rds_snapshot_backup(stack, client_factory=aws.client),
        health=http_health_probe(service.url, timeout=2.0),
        notify=SlackNotifier(service.url + "/slack/hook", lambda line: None),
        gate=fast_gate(),
        log=lambda line: None,
    )


def _running_v1_1_0(service: FakeService) -> InMemoryStack:
    stack = _stack(service, "v1.0.0")
    stack.set_config(IMAGE_TAG_KEY, _cv("v1.1.0"), path=True)
    stack.up(message="utp-infra deploy v1.1.0")
    return stack


def _assert_refused_failed_over(result: ReleaseResult, service: FakeService) -> None:
    assert result.outcome == "failed"
    assert result.error.startswith("the platform is failed over to us-west-2")
    assert "point DNS back at the fenced us-east-1" in result.error
    assert f"replace the promoted {WEST.database}" in result.error
    assert "run `utp-infra dr failback --stack staging` first" in result.error
    assert "docs/operations.md#dr-reconcile" in result.error
    assert [(s.name, s.status) for s in result.steps] == [
        ("pre-flight", "ok"),
        ("dr state", "failed"),
    ]
    # No snapshot either; Slack gets the refusal like any other failed step.
    assert _snapshots(EAST) == set() and _snapshots(WEST) == set()
    [payload] = service.webhooks
    assert payload["action"] == result.action and payload["outcome"] == "failed"
    assert payload["error"] == result.error and "failed over to us-west-2" in payload["text"]
    assert [s["name"] for s in payload["steps"]] == ["pre-flight", "dr state"]


def _assert_untouched(
    stack: InMemoryStack, loopback: FakeService, updates: int, version: str
) -> None:
    """No `up` ran: the stack's history and the running release are as they were."""
    assert len(stack.history()) == updates, "no `up` ran"
    assert running_version(stack) == version and loopback.version == version


@pytest.mark.parametrize("skip_backup", [False, True], ids=["with-backup", "skip-backup"])
@pytest.mark.parametrize("state", FAILED_OVER)
def test_no_deploy_while_failed_over(
    aws: Aws, loopback: FakeService, state: Callable[[Aws], None], skip_backup: bool
) -> None:
    stack = _stack(loopback, "v1.0.0")
    updates = len(stack.history())
    state(aws)

    result = _release(stack, loopback, aws).deploy("v1.1.0", skip_backup=skip_backup)

    _assert_refused_failed_over(result, loopback)
    _assert_untouched(stack, loopback, updates, "v1.0.0")


def test_no_rollback_while_failed_over(aws: Aws, loopback: FakeService) -> None:
    stack = _running_v1_1_0(loopback)
    updates = len(stack.history())
    _failed_over(aws)

    result = _release(stack, loopback, aws).rollback()

    assert result.action == "rollback" and result.version == "v1.0.0"
    _assert_refused_failed_over(result, loopback)
    _assert_untouched(stack, loopback, updates, "v1.1.0")


@pytest.mark.parametrize(
    ("state", "message"),
    [
        pytest.param(_failover_half_way, "no database takes writes", id="failover-half-way"),
        pytest.param(_fence_deferred_east_back, "both databases take writes", id="two-writers"),
        pytest.param(_west_down, "us-west-2 APIs do not answer, so whether", id="dr-down"),
    ],
)
def test_no_deploy_unless_one_database_surely_takes_writes_even_skipping_the_backup(
    aws: Aws, loopback: FakeService, state: Callable[[Aws], None], message: str
) -> None:
    stack = _stack(loopback, "v1.0.0")
    state(aws)

    result = _release(stack, loopback, aws).deploy("v1.1.0", skip_backup=True)

    assert result.outcome == "failed"
    assert result.error.startswith(message) and result.error.endswith("; then release again")
    assert f"{EAST.database} in us-east-1" in result.error
    assert [(s.name, s.status) for s in result.steps] == [
        ("pre-flight", "ok"),
        ("dr state", "failed"),
    ]
    assert running_version(stack) == "v1.0.0" and loopback.version == "v1.0.0"
    assert loopback.webhooks[0]["outcome"] == "failed"


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(lambda aws: None, id="as-deployed"),
        pytest.param(_reconciled, id="failed-back-and-reconciled"),
    ],
)
def test_deploy_goes_ahead_when_the_primary_region_takes_writes(
    aws: Aws, loopback: FakeService, state: Callable[[Aws], None]
) -> None:
    stack = _stack(loopback, "v1.0.0")
    state(aws)

    result = _release(stack, loopback, aws).deploy("v1.1.0")

    assert result.outcome == "succeeded", result.error
    checked = result.steps[1]
    assert (checked.name, checked.status) == ("dr state", "ok")
    assert checked.detail == f"{EAST.database} in us-east-1 takes writes"
    assert running_version(stack) == "v1.1.0" and loopback.version == "v1.1.0"
    assert _new_snapshot(EAST)


def _assert_refused_not_reconciled(result: ReleaseResult, service: FakeService) -> None:
    assert result.outcome == "failed"
    assert [(s.name, s.status) for s in result.steps] == [
        ("pre-flight", "ok"),
        ("dr state", "failed"),
    ]
    assert "docs/operations.md#dr-reconcile" in result.error
    assert result.error.endswith(
        f"`pulumi refresh`, then `pulumi up`, which creates a fresh replica of {EAST.database}"
        " (docs/operations.md#dr-reconcile), then release again"
    )
    assert _snapshots(EAST) == set() and _snapshots(WEST) == set()
    [payload] = service.webhooks
    assert payload["outcome"] == "failed" and payload["error"] == result.error


@pytest.mark.parametrize("skip_backup", [False, True], ids=["with-backup", "skip-backup"])
def test_no_deploy_after_a_failback_until_reconciled(
    aws: Aws, loopback: FakeService, skip_backup: bool
) -> None:
    """us-east-1 takes writes again, but us-west-2's database is still the fenced standalone
    the failover promoted: an `up` would replace it with a replica, deleting its data."""
    stack = _stack(loopback, "v1.0.0")
    updates = len(stack.history())
    _failed_back(aws)

    result = _release(stack, loopback, aws).deploy("v1.1.0", skip_backup=skip_backup)

    _assert_refused_not_reconciled(result, loopback)
    assert result.error.startswith(
        f"{WEST.database} in us-west-2 is a standalone instance fenced at"
        f" 2026-12-07T23:40:00+00:00, not a read replica of {EAST.database}: `pulumi up` now"
        " would replace it with a replica, deleting its data"
    )
    assert f"rename it aside (`{WEST.database}-old`)" in result.error
    _assert_untouched(stack, loopback, updates, "v1.0.0")


def test_no_rollback_after_a_failback_until_reconciled(aws: Aws, loopback: FakeService) -> None:
    stack = _running_v1_1_0(loopback)
    updates = len(stack.history())
    _failed_back(aws)

    result = _release(stack, loopback, aws).rollback()

    _assert_refused_not_reconciled(result, loopback)
    assert result.error.startswith(f"{WEST.database} in us-west-2 is a standalone instance")
    _assert_untouched(stack, loopback, updates, "v1.1.0")


def test_no_deploy_while_the_reconcile_is_half_way(aws: Aws, loopback: FakeService) -> None:
    """The standalone renamed aside and no replica yet: the reconcile's own `pulumi refresh`
    and `pulumi up` recreate it, not a release (release_dr.not_failed_over)."""
    stack = _stack(loopback, "v1.0.0")
    _west_renamed_aside(aws)

    result = _release(stack, loopback, aws).deploy("v1.1.0", skip_backup=True)

    _assert_refused_not_reconciled(result, loopback)
    assert result.error.startswith(
        f"{WEST.database} in us-west-2 does not exist, so the stack is not reconciled after a"
        " failback: finish the reconcile first"
    )
    assert "rename it aside" not in result.error
    assert running_version(stack) == "v1.0.0" and loopback.version == "v1.0.0"


def test_no_deploy_while_us_west_2_replicates_another_instance(
    aws: Aws, loopback: FakeService
) -> None:
    """Reconciled by hand from the wrong source (the old us-east-1 primary renamed aside)."""
    stack = _stack(loopback, "v1.0.0")
    _west_renamed_aside(aws)
    old = _rds(EAST).describe_db_instances(DBInstanceIdentifier=f"{EAST.database}-old")
    _rds(WEST).create_db_instance_read_replica(
        DBInstanceIdentifier=WEST.database,
        SourceDBInstanceIdentifier=old["DBInstances"][0]["DBInstanceArn"],
    )

    result = _release(stack, loopback, aws).deploy("v1.1.0")

    _assert_refused_not_reconciled(result, loopback)
    assert result.error.startswith(f"{WEST.database} in us-west-2 is a replica of arn:")
    assert f":{EAST.database}-old, not a read replica of {EAST.database}:" in result.error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        pytest.param(
            EndpointConnectionError(endpoint_url="https://rds.us-west-2.amazonaws.com"),
            f"{WEST.database} in us-west-2: us-west-2 APIs do not answer; wait until they"
            " answer, then release again",
            id="down",
        ),
        pytest.param(
            ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "Describe"),
            "reading the us-west-2 database failed: An error occurred (AccessDenied)",
            id="denied",
        ),
    ],
)
def test_the_dr_database_read_failing_after_the_writer_was_read_stops_the_release(
    aws: Aws, loopback: FakeService, error: Exception, message: str
) -> None:
    """us-west-2 answers `writable_primary`, then fails the replica check's own read."""
    stack = _stack(loopback, "v1.0.0")
    _reconciled(aws)
    west_reads: list[str] = []

    def client(service: str, region: str) -> Any:
        made = aws.client(service, region)

        def second_read_fails(event_name: str, **_: Any) -> None:
            west_reads.append(event_name)
            if len(west_reads) > 1:  # botocore retries a connection error
                raise error

        if region == WEST.region:
            made.meta.events.register_first(
                "before-send.rds.DescribeDBInstances", second_read_fails
            )
        return made

    release = _release(stack, loopback, aws)
    release.dr_check = partial(not_failed_over, client_factory=client)
    result = release.deploy("v1.1.0", skip_backup=True)

    assert result.outcome == "failed" and result.error.startswith(message), result.error
    assert running_version(stack) == "v1.0.0"


def test_a_dry_run_still_previews_while_failed_over(aws: Aws, loopback: FakeService) -> None:
    """A preview changes nothing: it shows what the reconciliation will have to undo."""
    stack = _running_v1_1_0(loopback)
    _failed_over(aws)

    deployed = _release(stack, loopback, aws).deploy("v1.2.0", dry_run=True)
    rolled = _release(stack, loopback, aws).rollback(dry_run=True)

    assert (deployed.outcome, rolled.outcome) == ("dry_run", "dry_run")
    assert stack.previews == [
        "utp-infra deploy v1.2.0 (dry run)", "utp-infra rollback to v1.0.0 (dry run)"
    ]  # fmt: skip
    assert running_version(stack) == "v1.1.0"


def test_utp_infra_wires_the_real_check(aws: Aws, loopback: FakeService) -> None:
    """The commands as shipped (only the stack, the policy check and the gate's clock are the
    test's): their DR check and snapshot reach AWS, here moto, through boto3's own clients."""
    stack = _running_v1_1_0(loopback)
    _failed_over(aws)
    deploy, rollback = build_commands(
        policy_check=lambda name: [],
        stack_factory=lambda name: stack,
        gate_clock=stepped_clock(),
    )
    env = {"UTP_SLACK_WEBHOOK_URL": loopback.url + "/slack/hook"}
    gate = ["--health-url", loopback.url, "--gate-deadline", "2", "--gate-interval", "0.1"]
    runner = CliRunner()

    args = ["--stack", "staging", "--version", "v1.2.0", "--skip-backup", *gate]
    refused = runner.invoke(deploy, args, env=env)
    assert refused.exit_code == 1
    assert "deploy failed: the platform is failed over to us-west-2" in refused.output
    assert "2. dr state ..." in refused.output
    assert "`utp-infra dr failback --stack staging` first" in refused.output

    back = runner.invoke(rollback, ["staging", "--yes", *gate], env=env)
    assert back.exit_code == 1
    assert "rollback failed: the platform is failed over to us-west-2" in back.output

    assert running_version(stack) == "v1.1.0" and loopback.version == "v1.1.0"
    assert _snapshots(EAST) == set() and _snapshots(WEST) == set()
    assert [(w["action"], w["outcome"]) for w in loopback.webhooks] == [
        ("deploy", "failed"), ("rollback", "failed")
    ]  # fmt: skip
