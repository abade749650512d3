"""The DR drill: the production stack's AWS resources as the Pulumi program names them, in moto;
us-east-1 fails; `utp-infra dr failover` runs (interrupted once, then resumed, then repeated);
us-east-1 comes back and is fenced; it is rebuilt as a replica; `utp-infra dr failback` runs.
Every step's effect is read back from the APIs, and the runs' timeline is written as JSON.

The AWS calls are moto's; the durations are not real (docs/operations.md keeps the budget).
Where moto 5.2 differs from AWS the drill says so and sets moto's state the way AWS would:
- PromoteReadReplica leaves `ReadReplicaSourceDBInstanceIdentifier` on the promoted instance
  (RDS drops it: the instance is standalone) - corrected on moto's model below;
- EKS clusters have no `clusterSecurityGroupId` (EKS always creates one) - set on moto's model;
- RDS publishes no CloudWatch metrics in moto - `ReplicaLag` datapoints are put by the drill;
- Route 53's GetHealthCheckStatus is canned ("Success" from one checker), so the DNS answer
  follows the checks' Disabled/Inverted flags, which moto does keep;
- StopReplicationToReplica is not implemented, so the command does not call it (the DR pods
  read their region's replica of the secret, which stays readable without us-east-1).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from click.testing import CliRunner
from moto import mock_aws
from moto.eks.models import eks_backends
from moto.rds.models import RDSBackend

from infra.dns import FAILURE_THRESHOLD, REQUEST_INTERVAL_SECONDS, SET_IDENTIFIERS
from stacks.commands.dr import EXIT_DEFERRED, command
from stacks.config import load_stack_config
from stacks.dr.names import DrNames, RegionNames
from stacks.dr.state import FENCE_TAG

ACCOUNT = "123456789012"  # moto's account
NAMES = DrNames.from_config(load_stack_config("production"))
EAST, WEST = NAMES.primary, NAMES.dr


@pytest.fixture(autouse=True)
def _moto_promotes_like_rds(monkeypatch: pytest.MonkeyPatch) -> None:
    """RDS: a promoted replica is standalone (no source) and leaves its source's replica list."""
    original = RDSBackend.promote_read_replica

    def promote(self: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
        database = self.databases[db_kwargs["db_instance_identifier"]]
        source_id = database.source_db_instance_identifier
        result = original(self, db_kwargs)
        if source_id:
            source = self.find_db_from_id(source_id)
            source.replicas = [r for r in source.replicas if r != database.db_instance_arn]
            database.source_db_instance_identifier = None
        return result

    monkeypatch.setattr(RDSBackend, "promote_read_replica", promote)


class Clock:
    """Starts now and moves one second per reading (timeline order, not wall-clock time)."""

    def __init__(self) -> None:
        self.at = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        self.at += dt.timedelta(seconds=1)
        return self.at


@dataclass
class World:
    """The production stack in moto, the regions that are down, and each region's service."""

    clock: Clock
    down: set[str] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)  # operations whose endpoint does not answer
    route53_down: bool = False
    services_down: set[str] = field(default_factory=set)  # regions whose pods do not answer
    cluster_groups: dict[str, str] = field(default_factory=dict)
    db_groups: dict[str, str] = field(default_factory=dict)
    ready_urls: dict[str, str] = field(default_factory=dict)

    def client(self, service: str, region: str) -> Any:
        """What the command gets: a real boto3 client on moto, refused while `region` is down
        (the error botocore raises when the endpoint does not answer)."""
        made = boto3.client(service, region_name=region)

        def refuse(request: Any, event_name: str, **_: Any) -> None:
            operation = event_name.rsplit(".", 1)[-1]  # before-send.<service>.<Operation>
            if (
                region in self.down
                or operation in self.failing
                or (service == "route53" and self.route53_down)
            ):
                raise EndpointConnectionError(endpoint_url=request.url)

        made.meta.events.register_first("before-send", refuse)
        return made

    def obj(self) -> dict[str, Any]:
        return {
            "client_factory": self.client,
            "ready_urls": self.ready_urls,
            "now": self.clock,
            "sleep": lambda seconds: None,
        }

    def put_lag(self, region: str, database: str, seconds: float) -> None:
        boto3.client("cloudwatch", region_name=region).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": database}],
                    "Value": seconds,
                    "Timestamp": self.clock.at,
                }
            ],
        )


def _db(region: RegionNames) -> dict[str, Any]:
    rds = boto3.client("rds", region_name=region.region)
    return dict(rds.describe_db_instances(DBInstanceIdentifier=region.database)["DBInstances"][0])


def _open_to(world: World, region: RegionNames) -> bool:
    """Whether the region's database security group lets its cluster in on 5432."""
    ec2 = boto3.client("ec2", region_name=region.region)
    group = ec2.describe_security_groups(GroupIds=[world.db_groups[region.region]])
    return any(
        pair["GroupId"] == world.cluster_groups[region.region]
        for rule in group["SecurityGroups"][0]["IpPermissions"]
        if rule.get("FromPort") == 5432
        for pair in rule["UserIdGroupPairs"]
    )


class ServiceHandler(BaseHTTPRequestHandler):
    """Each region's service as the DR design has it: ready while its region is up and its
    database reachable, reporting the database's role (`pg_is_in_recovery()`)."""

    world: World

    def do_GET(self) -> None:
        region = {EAST.hostname: EAST, WEST.hostname: WEST}[self.path.split("/")[1]]
        world = self.world
        if region.region in world.down | world.services_down or not _open_to(world, region):
            self.send_response(503)
            body = {"status": "unavailable"}
        else:
            role = (
                "replica" if _db(region).get("ReadReplicaSourceDBInstanceIdentifier") else "primary"
            )
            self.send_response(200)
            body = {"status": "ready", "role": role}
        data = json.dumps(body).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


class QuietServer(ThreadingHTTPServer):
    """A probe that gave up (its timeout, on a loaded machine) closes the connection before the
    answer is written: not an error of the world under test, so no traceback on stderr."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _network(world: World, region: RegionNames, cidr: str) -> None:
    ec2 = boto3.client("ec2", region_name=region.region)
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    cluster = ec2.create_security_group(GroupName="eks-cluster-sg", Description="EKS", VpcId=vpc)
    db = ec2.create_security_group(GroupName="db-sg", Description="PostgreSQL", VpcId=vpc)
    ec2.authorize_security_group_ingress(
        GroupId=db["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                        "UserIdGroupPairs": [{"GroupId": cluster["GroupId"]}]}],
    )  # fmt: skip
    world.cluster_groups[region.region] = cluster["GroupId"]
    world.db_groups[region.region] = db["GroupId"]
    eks = boto3.client("eks", region_name=region.region)
    eks.create_cluster(
        name=region.cluster,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{region.cluster}",
        resourcesVpcConfig={"subnetIds": []},
    )
    # EKS creates the cluster security group itself and reports it; moto does not.
    cluster_model = eks_backends[ACCOUNT][region.region].clusters[region.cluster]
    cluster_model.resources_vpc_config["clusterSecurityGroupId"] = cluster["GroupId"]


def _route53() -> dict[str, str]:
    """The zone, a health check per region and the failover records, as infra/dns.py makes them."""
    r53 = boto3.client("route53", region_name=WEST.region)
    zone = r53.create_hosted_zone(Name=NAMES.zone, CallerReference="zone")["HostedZone"]["Id"]
    checks = {}
    for region in (EAST, WEST):
        checks[region.region] = r53.create_health_check(
            CallerReference=region.hostname,
            HealthCheckConfig={
                "Type": "HTTPS", "FullyQualifiedDomainName": region.hostname, "Port": 443,
                "ResourcePath": NAMES.health_path, "EnableSNI": True,
                "RequestInterval": REQUEST_INTERVAL_SECONDS, "FailureThreshold": FAILURE_THRESHOLD,
            },
        )["HealthCheck"]["Id"]  # fmt: skip
    changes = []
    for failover, region in (("PRIMARY", EAST), ("SECONDARY", WEST)):
        changes.append({"Action": "CREATE", "ResourceRecordSet": {
            "Name": NAMES.api_hostname, "Type": "CNAME", "TTL": NAMES.ttl,
            "SetIdentifier": SET_IDENTIFIERS[failover], "Failover": failover,
            "ResourceRecords": [{"Value": region.hostname}],
            "HealthCheckId": checks[region.region],
        }})  # fmt: skip
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    return {"zone": zone, **checks}


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        world = World(Clock())
        _network(world, EAST, "10.10.0.0/16")
        _network(world, WEST, "10.20.0.0/16")
        primary = boto3.client("rds", region_name=EAST.region).create_db_instance(
            DBInstanceIdentifier=EAST.database, Engine="postgres", EngineVersion="16.4",
            DBInstanceClass="db.r6g.large", AllocatedStorage=100, MultiAZ=True,
            MasterUsername="utp_admin", MasterUserPassword="a" * 40,
            VpcSecurityGroupIds=[world.db_groups[EAST.region]],
            BackupRetentionPeriod=NAMES.backup_retention_days,
        )["DBInstance"]  # fmt: skip
        boto3.client("rds", region_name=WEST.region).create_db_instance_read_replica(
            DBInstanceIdentifier=WEST.database,
            SourceDBInstanceIdentifier=primary["DBInstanceArn"],
            VpcSecurityGroupIds=[world.db_groups[WEST.region]],
        )
        world.put_lag(WEST.region, WEST.database, 12.0)
        boto3.client("secretsmanager", region_name=EAST.region).create_secret(
            Name=NAMES.master_secret,
            SecretString=json.dumps({"username": "utp_admin", "password": "a" * 40}),
            AddReplicaRegions=[{"Region": WEST.region}],
        )
        s3 = boto3.client("s3", region_name=WEST.region)
        bucket = f"{NAMES.replica_bucket_prefix}{ACCOUNT}"
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": WEST.region}
        )
        s3.put_object(Bucket=bucket, Key="database/2026/12/07/nightly/manifest.json", Body=b"{}")
        _route53()
        handler = type("Handler", (ServiceHandler,), {"world": world})
        server = QuietServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        world.ready_urls = {r.region: f"{base}/{r.hostname}/health/ready" for r in (EAST, WEST)}
        try:
            yield world
        finally:
            server.shutdown()
            server.server_close()


def _dr(world: World, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        command, [*args, "--stack", "production", "--json"], obj=world.obj()
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    # stdout alone: the JSON report (stderr carries the command's warnings).
    return result.exit_code, json.loads(result.stdout)


def _outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {s["step"]: s["outcome"] for s in report["steps"]}


def _health_check(region: RegionNames) -> dict[str, Any]:
    r53 = boto3.client("route53", region_name=WEST.region)
    for check in r53.list_health_checks()["HealthChecks"]:
        if check["HealthCheckConfig"]["FullyQualifiedDomainName"] == region.hostname:
            return dict(check)
    raise AssertionError(region.hostname)


def _primary_record() -> dict[str, Any]:
    r53 = boto3.client("route53", region_name=WEST.region)
    zone = r53.list_hosted_zones_by_name(DNSName=NAMES.zone)["HostedZones"][0]["Id"]
    records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return next(r for r in records if r.get("SetIdentifier") == "primary")


def _tags(region: RegionNames) -> dict[str, str]:
    rds = boto3.client("rds", region_name=region.region)
    tags = rds.list_tags_for_resource(ResourceName=_db(region)["DBInstanceArn"])["TagList"]
    return {t["Key"]: t["Value"] for t in tags}


def test_drill_failover_resume_repeat_and_failback(world: World, tmp_path: Path) -> None:
    timeline: list[dict[str, Any]] = []

    # Before: us-east-1 primary, us-west-2 its replica 12 s behind, DNS answers us-east-1.
    code, before = _dr(world, "status")
    east, west = before["regions"]
    assert (east["database"]["role"], west["database"]["role"]) == ("primary", "replica")
    assert west["replica_lag_seconds"] == 12.0 and west["rpo_met"]
    assert west["service"] == {
        "ready": True,
        "role": "replica",
        "detail": west["service"]["detail"],
    }
    assert before["dns"]["answer"]["target"] == EAST.hostname
    assert before["dr_backups"]["newest"] == "database/2026/12/07/nightly"

    # us-east-1 fails: its APIs and its service stop answering.
    world.down.add(EAST.region)
    code, status = _dr(world, "status")
    assert not status["regions"][0]["reachable"] and status["regions"][1]["reachable"]

    # The plan: every step, none done yet; nothing changes.
    code, plan = _dr(world, "failover", "--dry-run")
    assert code == 0
    assert _outcomes(plan) == {
        "fence-health-check-us-east-1": "would_run",
        "fence-database-us-east-1": "deferred",
        "promote-database-us-west-2": "would_run",
        "backups-us-west-2": "already_done",
        "service-read-write-us-west-2": "would_run",
        "dns-to-us-west-2": "would_run",
    }
    assert not _health_check(EAST)["HealthCheckConfig"]["Disabled"]
    assert _db(WEST).get("ReadReplicaSourceDBInstanceIdentifier")

    # Interrupted: the promotion call does not get through (the run stops there).
    world.failing.add("PromoteReadReplica")
    code, first = _dr(world, "failover")
    world.failing.clear()
    timeline += first["timeline"]
    assert code == 1
    assert _outcomes(first) == {
        "fence-health-check-us-east-1": "done",
        "fence-database-us-east-1": "deferred",
        "promote-database-us-west-2": "failed",
        "backups-us-west-2": "not_reached",
        "service-read-write-us-west-2": "not_reached",
        "dns-to-us-west-2": "not_reached",
    }
    config = _health_check(EAST)["HealthCheckConfig"]
    assert config["Disabled"] and config["Inverted"]  # us-east-1 can never answer again

    # Resumed: what was done is recognised; the rest runs.
    code, second = _dr(world, "failover")
    timeline += second["timeline"]
    assert code == EXIT_DEFERRED  # us-east-1's database could not be fenced yet
    assert _outcomes(second) == {
        "fence-health-check-us-east-1": "already_done",
        "fence-database-us-east-1": "deferred",
        "promote-database-us-west-2": "done",
        "backups-us-west-2": "already_done",
        # The loopback service follows its database at once: read-write as soon as promoted.
        "service-read-write-us-west-2": "already_done",
        "dns-to-us-west-2": "done",
    }
    promoted = _db(WEST)
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
    assert promoted["BackupRetentionPeriod"] == NAMES.backup_retention_days
    record = _primary_record()
    assert record["ResourceRecords"] == [{"Value": WEST.hostname}]
    assert record["HealthCheckId"] == _health_check(WEST)["Id"]
    code, status = _dr(world, "status")
    assert status["regions"][1]["service"]["role"] == "primary"
    assert status["dns"]["answer"] == {
        "hostname": NAMES.api_hostname, "record": "primary", "target": WEST.hostname,
        "certain": True,
    }  # fmt: skip

    # Repeated: nothing left to do, nothing called.
    code, third = _dr(world, "failover")
    timeline += third["timeline"]
    assert set(_outcomes(third).values()) == {"already_done", "deferred"}
    assert not [e for e in third["timeline"] if e["event"] == "apply"]

    # us-east-1 returns, still believing it is the primary: the next run fences its database.
    world.down.clear()
    assert _open_to(world, EAST)
    code, fourth = _dr(world, "failover")
    timeline += fourth["timeline"]
    assert code == 0 and fourth["complete"]
    assert _outcomes(fourth)["fence-database-us-east-1"] == "done"
    assert not _open_to(world, EAST) and FENCE_TAG in _tags(EAST)
    code, status = _dr(world, "status")
    assert status["regions"][0]["service"]["ready"] is False  # its service cannot reach it
    assert status["dns"]["answer"]["target"] == WEST.hostname  # and DNS stays in us-west-2

    # Failback refuses until us-east-1 is rebuilt as a replica of us-west-2.
    code, refused = _dr(world, "failback")
    assert code == 1 and not refused["complete"]
    assert any("is not a read replica of" in r for r in refused["refused"]), refused["refused"]
    assert set(_outcomes(refused).values()) == {"not_reached"}

    # The rebuild, by hand as the refusal says: the old instance aside, a cross-region replica.
    east_rds = boto3.client("rds", region_name=EAST.region)
    east_rds.modify_db_instance(
        DBInstanceIdentifier=EAST.database,
        NewDBInstanceIdentifier=f"{EAST.database}-old",
        ApplyImmediately=True,
    )
    east_rds.create_db_instance_read_replica(
        DBInstanceIdentifier=EAST.database,
        SourceDBInstanceIdentifier=promoted["DBInstanceArn"],
        VpcSecurityGroupIds=[world.db_groups[EAST.region]],
    )
    world.put_lag(EAST.region, EAST.database, 400.0)
    code, lagging = _dr(world, "failback")
    assert code == 1 and any("ReplicaLag 400 s > 300 s" in r for r in lagging["refused"])
    world.clock.at += dt.timedelta(minutes=1)
    world.put_lag(EAST.region, EAST.database, 0.0)

    # Interrupted: us-east-1's pods are not serving yet when its database is promoted.
    world.services_down.add(EAST.region)
    code, stopped = _dr(world, "failback")
    timeline += stopped["timeline"]
    assert code == 1
    assert _outcomes(stopped) == {
        "fence-database-us-west-2": "done",
        "unfence-database-us-east-1": "done",
        "replica-caught-up-us-east-1": "already_done",
        "promote-database-us-east-1": "done",
        "backups-us-east-1": "already_done",
        "service-read-write-us-east-1": "failed",
        "unfence-health-check-us-east-1": "not_reached",
        "dns-to-us-east-1": "not_reached",
    }
    assert "not done after 300 s" in stopped["steps"][5]["detail"]
    assert _primary_record()["ResourceRecords"] == [{"Value": WEST.hostname}]  # DNS untouched

    # Resumed once the pods serve: the promoted, unfenced us-east-1 is recognised.
    world.services_down.clear()
    code, back = _dr(world, "failback", "--timeline", str(tmp_path / "failback-timeline.json"))
    timeline += back["timeline"]
    assert code == 0 and back["complete"], back
    assert _outcomes(back) == {
        "fence-database-us-west-2": "already_done",
        "unfence-database-us-east-1": "already_done",
        "replica-caught-up-us-east-1": "already_done",
        "promote-database-us-east-1": "already_done",
        "backups-us-east-1": "already_done",
        "service-read-write-us-east-1": "already_done",
        "unfence-health-check-us-east-1": "done",
        "dns-to-us-east-1": "done",
    }
    assert not _open_to(world, WEST) and FENCE_TAG in _tags(WEST)
    assert _open_to(world, EAST) and FENCE_TAG not in _tags(EAST)
    assert "ReadReplicaSourceDBInstanceIdentifier" not in _db(EAST)
    config = _health_check(EAST)["HealthCheckConfig"]
    assert not config["Disabled"] and not config["Inverted"]
    assert _primary_record()["ResourceRecords"] == [{"Value": EAST.hostname}]
    code, after = _dr(world, "status")
    assert after["dns"]["answer"]["target"] == EAST.hostname
    assert after["regions"][0]["service"]["role"] == "primary"
    written = json.loads((tmp_path / "failback-timeline.json").read_text())
    assert written == back["timeline"]

    # Failback again: nothing to do. A failover now is refused: us-west-2 is the fenced one.
    code, again = _dr(world, "failback")
    assert code == 0 and set(_outcomes(again).values()) == {"already_done"}
    code, refused = _dr(world, "failover")
    assert code == 1 and "is fenced (a failback left it behind)" in refused["refused"][0]

    # The drill's timeline: every run's events, in order.
    (tmp_path / "dr-drill-timeline.json").write_text(json.dumps(timeline, indent=2))
    times = [e["at"] for e in timeline]
    assert times == sorted(times)
    assert [e["event"] for e in timeline].count("start") == 6
    # Something was called only for steps not already done (the failed promotion was tried).
    assert [e["event"] for e in timeline].count("apply") == sum(
        outcome in ("done", "failed")
        for r in (first, second, fourth, stopped, back)
        for outcome in _outcomes(r).values()
    )


def test_dr_help_lists_the_three_verbs() -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0
    for verb in ("status", "failover", "failback"):
        assert f"  {verb} " in result.output


def test_dry_run_prints_the_plan_and_changes_nothing(world: World) -> None:
    world.down.add(EAST.region)
    result = CliRunner().invoke(
        command, ["failover", "--stack", "production", "--dry-run"], obj=world.obj()
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "dr failover --stack production (dry run: the plan)"
    assert " 1. fence-health-check-us-east-1 " in lines[1] and lines[1].endswith("would run")
    assert "route53:UpdateHealthCheck(Disabled=true, Inverted=true)" in lines[2]
    assert any("fence-database-us-east-1" in line and "DEFERRED" in line for line in lines)
    assert any("promote-database-us-west-2" in line and "would run" in line for line in lines)
    assert any("backups-us-west-2" in line and "already done" in line for line in lines)
    assert _db(WEST).get("ReadReplicaSourceDBInstanceIdentifier")
    assert not _health_check(EAST)["HealthCheckConfig"]["Inverted"]


def test_status_text_shows_roles_lag_checks_and_the_answer(world: World) -> None:
    result = CliRunner().invoke(command, ["status", "--stack", "production"], obj=world.obj())
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"us-east-1 (configured primary): database {EAST.database} primary" in out
    assert f"us-west-2 (configured dr): database {WEST.database} replica" in out
    assert "replica lag (RPO now): 12 s" in out
    assert f"DNS answer for {NAMES.api_hostname}: primary -> {EAST.hostname}" in out
    world.down.add(EAST.region)
    out = CliRunner().invoke(command, ["status", "--stack", "production"], obj=world.obj()).output
    assert "us-east-1 (configured primary): APIs UNREACHABLE" in out


def test_failover_refuses_without_the_dr_region(world: World) -> None:
    world.down.update({EAST.region, WEST.region})
    code, report = _dr(world, "failover")
    assert code == 1
    assert report["refused"] == ["us-west-2 APIs do not answer: the failover needs them"]
    assert not _health_check(EAST)["HealthCheckConfig"]["Disabled"]  # nothing was touched


def test_failover_refuses_without_the_replicated_secret(world: World) -> None:
    boto3.client("secretsmanager", region_name=EAST.region).remove_regions_from_replication(
        SecretId=NAMES.master_secret, RemoveReplicaRegions=[WEST.region]
    )
    code, report = _dr(world, "failover", "--dry-run")
    assert code == 1
    assert report["refused"] == [
        f"secret {NAMES.master_secret} in us-west-2: ResourceNotFoundException"
    ]


def test_failback_refuses_when_there_was_no_failover(world: World) -> None:
    code, report = _dr(world, "failback")
    assert code == 1
    assert f"{WEST.database} is replica: there was no failover to undo" in report["refused"]
    text = (
        CliRunner().invoke(command, ["failback", "--stack", "production"], obj=world.obj()).output
    )
    assert text.splitlines()[1] == "REFUSED:"


def test_failover_promotes_even_when_route53_is_down_too(world: World) -> None:
    """Route 53's control plane lives in us-east-1: without it the fencing and DNS steps wait
    for a re-run, the promotion does not (its data plane already answers with us-west-2)."""
    world.down.add(EAST.region)
    world.route53_down = True
    code, report = _dr(world, "failover")
    assert code == EXIT_DEFERRED
    outcomes = _outcomes(report)
    assert outcomes["fence-health-check-us-east-1"] == "deferred"
    assert outcomes["promote-database-us-west-2"] == "done"
    assert outcomes["dns-to-us-west-2"] == "deferred"
    assert "Route 53 APIs unreachable" in report["steps"][0]["detail"]
    world.route53_down = False
    code, report = _dr(world, "failover")
    assert code == EXIT_DEFERRED  # the old database still waits for us-east-1
    assert _outcomes(report)["fence-health-check-us-east-1"] == "done"
    assert _outcomes(report)["dns-to-us-west-2"] == "done"


def test_dry_run_without_aws_access_still_prints_the_plan(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Reviewing the plan from a machine with no AWS credentials: every step and its calls,
    each state unknown, and why; a real failover without credentials stops with the SDK's
    message instead."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(command, ["failover", "--stack", "production", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "dr failover --stack production (dry run: the plan)"
    assert lines[1].startswith("AWS state not read (Unable to locate credentials)")
    assert " 1. fence-health-check-us-east-1 " in lines[2] and lines[2].endswith("state unknown")
    assert any("promote-database-us-west-2" in line for line in lines)
    result = CliRunner().invoke(command, ["failover", "--stack", "production"])
    assert result.exit_code == 1
    assert "Error: AWS: Unable to locate credentials" in result.output
