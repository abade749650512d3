"""The DR steps' decisions that need no AWS: how Route 53 treats a health check, which record
it answers with, and how the service's role is awaited."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from stacks.config import load_stack_config
from stacks.dr.aws import Clients, RegionUnreachable, default_factory
from stacks.dr.names import DrNames
from stacks.dr.plan import FAILED, Report, run
from stacks.dr.state import Context, dns_answer, effective_health
from stacks.dr.steps import failover_steps
from stacks.regions import GraphIndex

NAMES = DrNames.from_config(load_stack_config("production"))


def _no_aws(service: str, region: str) -> Any:
    raise AssertionError(f"no AWS call expected ({service} in {region})")


@pytest.mark.parametrize(
    ("config", "observed", "healthy"),
    [
        ({}, True, True),
        ({}, False, False),
        ({}, None, None),
        ({"Inverted": True}, True, False),  # inverted alone flips a real result...
        ({"Inverted": True}, False, True),  # ...so a failing region would count as healthy
        ({"Disabled": True}, False, True),  # disabled alone: always healthy
        ({"Disabled": True, "Inverted": True}, True, False),  # both: always unhealthy
    ],
)
def test_effective_health_follows_route53(
    config: dict[str, Any], observed: bool | None, healthy: bool | None
) -> None:
    assert effective_health(config, observed) is healthy


def _record(target: str, check: str) -> dict[str, Any]:
    return {"ResourceRecords": [{"Value": target}], "HealthCheckId": check}


def test_dns_answer_picks_the_healthy_record() -> None:
    records = {"primary": _record("use1.x", "a"), "secondary": _record("usw2.x", "b")}
    assert dns_answer(records, {"a": True, "b": True})["target"] == "use1.x"
    assert dns_answer(records, {"a": False, "b": True})["target"] == "usw2.x"
    # Both unhealthy: Route 53 answers with the primary.
    assert dns_answer(records, {"a": False, "b": False})["target"] == "use1.x"
    assert dns_answer(records, {"a": None, "b": True})["certain"] is False
    only_secondary = {"secondary": _record("usw2.x", "b")}
    assert dns_answer(only_secondary, {"b": True})["target"] == "usw2.x"


def _context(replies: list[tuple[int, dict[str, Any]]]) -> tuple[Context, list[float]]:
    slept: list[float] = []

    def fetch(url: str) -> tuple[int, dict[str, Any]]:
        assert url == f"https://{NAMES.dr.hostname}/health/ready"
        return replies.pop(0) if len(replies) > 1 else replies[0]

    ctx = Context(
        names=NAMES,
        clients=Clients(_no_aws),
        fetch_ready=fetch,
        sleep=slept.append,
        poll_seconds=15,
        ready_timeout_seconds=60,
    )
    return ctx, slept


def _service_step() -> Any:
    [step] = [s for s in failover_steps(NAMES.primary, NAMES.dr) if s.name.startswith("service")]
    return step


def test_service_step_waits_for_the_primary_role() -> None:
    ctx, slept = _context(
        [
            (503, {}),
            (200, {"role": "replica"}),
            (200, {"role": "replica"}),
            (200, {"role": "primary"}),
        ]
    )
    report = run(Report("failover", "production", dry_run=False), [_service_step()], ctx)
    assert report.complete and report.steps[0].outcome == "done"
    assert slept == [15, 15]


def test_service_step_accepts_a_ready_service_that_reports_no_role() -> None:
    ctx, _ = _context([(200, {"status": "ready"})])
    assert _service_step().check(ctx).done
    assert "no role reported" in _service_step().check(ctx).detail


def test_service_step_fails_when_the_role_never_changes() -> None:
    ctx, slept = _context([(200, {"role": "replica"})])
    report = run(Report("failover", "production", dry_run=False), [_service_step()], ctx)
    assert report.steps[0].outcome == FAILED
    assert "not done after 60 s" in report.steps[0].detail
    assert sum(slept) == 60


def test_service_step_treats_no_answer_as_not_ready() -> None:
    def refuse(url: str) -> tuple[int, dict[str, Any]]:
        raise ConnectionRefusedError(url)

    ctx = Context(names=NAMES, clients=Clients(_no_aws), fetch_ready=refuse)
    check = _service_step().check(ctx)
    assert not check.done and "no answer (ConnectionRefusedError)" in check.detail


def _inputs(graph: GraphIndex, typ: str, key: str) -> set[str]:
    return {str(r.inputs[key]) for r in graph.of_type(typ) if key in r.inputs}


def test_names_are_the_ones_the_program_gives(production: GraphIndex) -> None:
    """`utp-infra dr` finds what `pulumi up` created: the same names, from the same code."""
    assert _inputs(production, "aws:rds/instance:Instance", "identifier") == {
        NAMES.primary.database,
        NAMES.dr.database,
    }
    assert NAMES.master_secret in _inputs(production, "aws:secretsmanager/secret:Secret", "name")
    assert {NAMES.primary.cluster, NAMES.dr.cluster} <= _inputs(
        production, "aws:eks/cluster:Cluster", "name"
    )
    checks = [r.inputs for r in production.of_type("aws:route53/healthCheck:HealthCheck")]
    assert {(c["fqdn"], c["resourcePath"]) for c in checks} == {
        (NAMES.primary.hostname, NAMES.health_path),
        (NAMES.dr.hostname, NAMES.health_path),
    }
    records = [
        r.inputs
        for r in production.of_type("aws:route53/record:Record")
        if r.inputs.get("name") == NAMES.api_hostname
    ]
    assert {(r["setIdentifier"], r["ttl"]) for r in records} == {
        ("primary", NAMES.ttl),
        ("secondary", NAMES.ttl),
    }
    buckets = _inputs(production, "aws:s3/bucketV2:BucketV2", "bucket") | _inputs(
        production, "aws:s3/bucket:Bucket", "bucket"
    )
    assert any(b.startswith(NAMES.replica_bucket_prefix) for b in buckets), buckets


def test_default_clients_fail_fast() -> None:
    """During an outage a call to the lost region must fail in seconds, not minutes."""
    client = default_factory()("rds", "us-west-2")
    assert client.meta.region_name == "us-west-2"
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (5, 20)


class _Failing:
    def __init__(self, code: str) -> None:
        self.code = code

    def describe_db_instances(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "x"}}, "DescribeDBInstances")


def test_a_failing_regional_service_counts_as_unreachable() -> None:
    clients = Clients(lambda service, region: _Failing("ServiceUnavailable"))
    with pytest.raises(RegionUnreachable, match="us-east-1 APIs unreachable"):
        clients.call("rds", "us-east-1", "describe_db_instances")
    clients = Clients(lambda service, region: _Failing("AccessDenied"))
    with pytest.raises(ClientError):  # a real refusal is not an outage
        clients.call("rds", "us-east-1", "describe_db_instances")
