"""The pre-deploy RDS snapshot targets the database that takes writes, in its region: the
staging stack's two databases in moto, as the program names them, in the states `utp-infra dr`
leaves them (normal, failed over, failed back, half-way), a region's APIs down when needed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws
from moto.rds.models import rds_backends

from ops_common.healthcheck import HealthReport
from stacks.config import load_stack_config
from stacks.dr.names import DrNames, RegionNames
from stacks.dr.state import FENCE_TAG
from stacks.release import Release, ReleaseError
from stacks.snapshots import rds_snapshot_backup
from stacks.versions import running_version
from tests.stacks.in_memory_stack import InMemoryStack

ACCOUNT = "123456789012"  # moto's account
NAMES = DrNames.from_config(load_stack_config("staging"))
EAST, WEST = NAMES.primary, NAMES.dr  # configured primary (us-east-1) and DR (us-west-2)
LABEL = "pre-deploy-v1.1.0"
NEW = "utp-staging-pre-deploy-v1-1-0-"  # the new snapshot's identifier, before its time


@dataclass
class Aws:
    """moto, with the regions whose APIs do not answer (the error botocore raises then)."""

    down: set[str] = field(default_factory=set)
    unanswered: set[str] = field(default_factory=set)  # operations whose call gets no answer
    denied: set[str] = field(default_factory=set)  # operations the caller may not make

    def client(self, service: str, region: str) -> Any:
        made = boto3.client(service, region_name=region)

        def refuse(request: Any, event_name: str, **_: Any) -> None:
            operation = event_name.rsplit(".", 1)[-1]  # before-send.<service>.<Operation>
            if region in self.down or operation in self.unanswered:
                raise EndpointConnectionError(endpoint_url=request.url)
            if operation in self.denied:
                error = {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}
                raise ClientError(error, operation)

        made.meta.events.register_first("before-send", refuse)
        return made


def _rds(region: RegionNames) -> Any:
    return boto3.client("rds", region_name=region.region)


def _arn(region: RegionNames) -> str:
    found = _rds(region).describe_db_instances(DBInstanceIdentifier=region.database)
    return str(found["DBInstances"][0]["DBInstanceArn"])


def _fence(region: RegionNames) -> None:
    """What `dr failover`/`dr failback` leave on the database they take out of service."""
    _rds(region).add_tags_to_resource(
        ResourceName=_arn(region), Tags=[{"Key": FENCE_TAG, "Value": "2026-12-07T23:40:00+00:00"}]
    )


def _promote(region: RegionNames) -> None:
    """PromoteReadReplica; RDS drops the source of a promoted instance, moto 5.2 keeps it (as
    tests/stacks/test_dr_drill.py notes), so moto's model is corrected the way AWS behaves."""
    _rds(region).promote_read_replica(DBInstanceIdentifier=region.database)
    database = rds_backends[ACCOUNT][region.region].databases[region.database]
    database.source_db_instance_identifier = None


def _snapshots(region: RegionNames) -> set[str]:
    manual = _rds(region).describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    return {f"{s['DBInstanceIdentifier']}/{s['DBSnapshotIdentifier']}" for s in manual}


def _old_release_snapshots(region: RegionNames, count: int) -> list[str]:
    """`count` earlier release snapshots of the region's database, oldest first."""
    names = [f"utp-staging-pre-deploy-v1-0-{i}-2025010100000{i}" for i in range(count)]
    for name in names:
        _rds(region).create_db_snapshot(
            DBSnapshotIdentifier=name, DBInstanceIdentifier=region.database
        )
    return [f"{region.database}/{name}" for name in names]


@pytest.fixture
def aws() -> Iterator[Aws]:
    """As deployed: the us-east-1 primary and its cross-region replica in us-west-2."""
    with mock_aws():
        primary = _rds(EAST).create_db_instance(
            DBInstanceIdentifier=EAST.database, DBInstanceClass="db.t4g.medium",
            Engine="postgres", MasterUsername="utp_admin", MasterUserPassword="x" * 16,
            AllocatedStorage=20,
        )["DBInstance"]  # fmt: skip
        _rds(WEST).create_db_instance_read_replica(
            DBInstanceIdentifier=WEST.database, SourceDBInstanceIdentifier=primary["DBInstanceArn"]
        )
        yield Aws()


def _backup(aws: Aws, keep: int = 10) -> str:
    stack = InMemoryStack("staging", {"utp:environment": "staging"})
    return rds_snapshot_backup(stack, client_factory=aws.client, keep=keep)("staging", LABEL)


def _new_snapshot(region: RegionNames) -> str:
    [new] = [s for s in _snapshots(region) if s.startswith(f"{region.database}/{NEW}")]
    return new


def test_normal_the_us_east_1_primary_is_snapshotted_there(aws: Aws) -> None:
    detail = _backup(aws)
    new = _new_snapshot(EAST)
    assert new.split("/")[1] in detail and f"of {EAST.database} in us-east-1" in detail
    assert _snapshots(WEST) == set()


def test_release_snapshots_beyond_the_newest_are_pruned(aws: Aws) -> None:
    older = _old_release_snapshots(EAST, 5)
    _rds(EAST).create_db_snapshot(
        DBSnapshotIdentifier="utp-production-pre-deploy-v1-0-0-20250101000000",
        DBInstanceIdentifier=EAST.database,
    )
    _rds(EAST).create_db_snapshot(
        DBSnapshotIdentifier="before-migration-by-hand", DBInstanceIdentifier=EAST.database
    )
    others = {
        f"{EAST.database}/utp-production-pre-deploy-v1-0-0-20250101000000",
        f"{EAST.database}/before-migration-by-hand",
    }

    detail = _backup(aws, keep=3)

    # The new one and the two newest before it stay, as does every other snapshot.
    assert _snapshots(EAST) == {_new_snapshot(EAST), older[4], older[3], *others}
    assert "3 older release snapshot(s) deleted" in detail


def _failed_over(aws: Aws) -> None:
    """`dr failover` done: us-east-1 fenced, the us-west-2 replica promoted."""
    _fence(EAST)
    _promote(WEST)


def _failed_over_east_down(aws: Aws) -> None:
    """`dr failover` during the outage: us-east-1's fencing deferred, its APIs still down."""
    _promote(WEST)
    aws.down.add(EAST.region)


def _failed_back(aws: Aws) -> None:
    """`dr failover`, then `dr failback`: us-west-2 fenced (a standalone until reconciled),
    us-east-1 rebuilt as its replica and promoted."""
    _failed_over(aws)
    _rds(EAST).modify_db_instance(
        DBInstanceIdentifier=EAST.database,
        NewDBInstanceIdentifier=f"{EAST.database}-old",
        ApplyImmediately=True,
    )
    _rds(EAST).create_db_instance_read_replica(
        DBInstanceIdentifier=EAST.database, SourceDBInstanceIdentifier=_arn(WEST)
    )
    _fence(WEST)
    _promote(EAST)


def _west_renamed_aside(aws: Aws) -> None:
    """Failed back, and the reconcile (docs/operations.md#dr-reconcile) stopped after its
    first step: the fenced us-west-2 standalone renamed aside, no replica under the name yet."""
    _failed_back(aws)
    _rds(WEST).modify_db_instance(
        DBInstanceIdentifier=WEST.database,
        NewDBInstanceIdentifier=f"{WEST.database}-old",
        ApplyImmediately=True,
    )


def _reconciled(aws: Aws) -> None:
    """Failed back and reconciled: `pulumi up` created a fresh us-west-2 replica of us-east-1."""
    _west_renamed_aside(aws)
    _rds(WEST).create_db_instance_read_replica(
        DBInstanceIdentifier=WEST.database, SourceDBInstanceIdentifier=_arn(EAST)
    )


@pytest.mark.parametrize(
    ("state", "writer", "other"),
    [
        pytest.param(_failed_over, WEST, EAST, id="failed-over"),
        pytest.param(_failed_over_east_down, WEST, None, id="failed-over-us-east-1-down"),
        pytest.param(_failed_back, EAST, WEST, id="failed-back"),
    ],
)
def test_the_writable_database_is_snapshotted_in_its_region(
    aws: Aws, state: Callable[[Aws], None], writer: RegionNames, other: RegionNames | None
) -> None:
    state(aws)
    detail = _backup(aws)
    new = _new_snapshot(writer)
    assert f"{new.split('/')[1]} of {writer.database} in {writer.region}" in detail
    if other is not None:
        assert _snapshots(other) == set()


def test_failed_over_the_promoted_instance_is_snapshotted_and_pruned_in_us_west_2(
    aws: Aws,
) -> None:
    before_failover = _old_release_snapshots(EAST, 3)
    _failed_over(aws)
    older = _old_release_snapshots(WEST, 4)
    _rds(WEST).create_db_snapshot(
        DBSnapshotIdentifier="before-migration-by-hand", DBInstanceIdentifier=WEST.database
    )

    detail = _backup(aws, keep=2)

    assert _snapshots(WEST) == {
        _new_snapshot(WEST),
        older[3],
        f"{WEST.database}/before-migration-by-hand",
    }
    assert "3 older release snapshot(s) deleted" in detail
    # The fenced copy is neither snapshotted nor pruned: its history stays as it was.
    assert _snapshots(EAST) == set(before_failover)


def _failover_half_way(aws: Aws) -> None:
    """`dr failover` stopped after fencing us-east-1, before the promotion."""
    _fence(EAST)


def _fence_deferred_east_back(aws: Aws) -> None:
    """Failed over while us-east-1 was down; it is back and nobody re-ran `dr failover`."""
    _promote(WEST)


def _west_down(aws: Aws) -> None:
    aws.down.add(WEST.region)


def _both_down(aws: Aws) -> None:
    aws.down.update({EAST.region, WEST.region})


@pytest.mark.parametrize(
    ("state", "message"),
    [
        pytest.param(_failover_half_way, "no database takes writes", id="failover-half-way"),
        pytest.param(_fence_deferred_east_back, "both databases take writes", id="two-writers"),
        pytest.param(_west_down, "us-west-2 APIs do not answer, so whether", id="dr-down"),
        pytest.param(_both_down, "no database is known to take writes", id="both-down"),
    ],
)
def test_no_snapshot_unless_one_database_surely_takes_writes(
    aws: Aws, state: Callable[[Aws], None], message: str
) -> None:
    state(aws)
    with pytest.raises(ReleaseError, match="no RDS snapshot taken") as refused:
        _backup(aws)
    assert message in str(refused.value)
    assert f"{EAST.database} in us-east-1" in str(refused.value)
    assert f"{WEST.database} in us-west-2" in str(refused.value)
    assert _snapshots(EAST) == set() and _snapshots(WEST) == set()


def test_a_deploy_half_way_through_a_failover_stops_before_up(aws: Aws) -> None:
    _failover_half_way(aws)
    service = {"imageTag": "v1.0.0"}
    stack = InMemoryStack("staging", {"utp:environment": "staging", "utp:service": service})
    stack.up(message="utp-infra deploy v1.0.0")
    lines: list[str] = []
    sent: list[dict[str, Any]] = []

    def no_health(version: str) -> HealthReport:
        raise AssertionError("the health gate runs only after an up")

    result = Release(
        stack,
        "staging",
        validate_config=lambda name: None,
        policy_check=lambda name: [],
        # The DR check passed just before a failover began (tests/stacks/test_release_dr.py
        # runs it): the snapshot reads the state again and refuses on its own.
        dr_check=lambda name: f"{EAST.database} in us-east-1 takes writes",
        backup=rds_snapshot_backup(stack, client_factory=aws.client),
        health=no_health,
        notify=sent.append,
        log=lines.append,
    ).deploy("v1.1.0")

    assert result.outcome == "failed"
    assert "fenced at" in result.error and "dr failover" in result.error
    assert [s.name for s in result.steps] == ["pre-flight", "dr state", "pre-deploy backup"]
    assert running_version(stack) == "v1.0.0"
    assert sent[0]["outcome"] == "failed" and "no RDS snapshot taken" in sent[0]["error"]


def test_a_stack_never_deployed_has_nothing_to_snapshot() -> None:
    with mock_aws(), pytest.raises(ReleaseError, match="is the stack deployed") as refused:
        _backup(Aws())
    assert f"{EAST.database} in us-east-1: absent" in str(refused.value)


def test_aws_errors_stop_the_release_saying_what_failed(aws: Aws) -> None:
    aws.denied.add("DescribeDBInstances")
    with pytest.raises(ReleaseError, match="reading which database takes writes failed"):
        _backup(aws)
    aws.denied.clear()
    aws.unanswered.add("CreateDBSnapshot")
    with pytest.raises(ReleaseError, match=f"RDS snapshot of {EAST.database} in us-east-1 failed"):
        _backup(aws)
    assert _snapshots(EAST) == set()


def test_a_stack_without_a_stack_file_is_refused() -> None:
    stack = InMemoryStack("qa", {})
    with pytest.raises(ReleaseError, match=r"config: Pulumi\.qa\.yaml: no such stack file"):
        rds_snapshot_backup(stack, client_factory=Aws().client)("qa", LABEL)
