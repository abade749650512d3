"""The steps of a failover and a failback. Each one first checks whether its effect already
holds (then it is skipped), so a run can be repeated or resumed after an interruption."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from infra.dns import SET_IDENTIFIERS
from stacks.dr.aws import error_code
from stacks.dr.names import RegionNames
from stacks.dr.state import (
    FENCE_TAG,
    POSTGRES_PORT,
    Context,
    db_instance,
    failover_records,
    fenced_at,
    health_check,
    hosted_zone_id,
    record_target,
    replica_lag_seconds,
    replica_source,
    service_role,
)

GLOBAL = "global"  # Route 53's control plane: one endpoint for every region


@dataclass(frozen=True)
class Check:
    done: bool
    detail: str


class StepFailed(Exception):
    """The step ran but its effect does not hold (a wait timed out, a precondition broke)."""


@dataclass(frozen=True)
class Step:
    name: str
    region: str  # where its calls go (GLOBAL for Route 53)
    calls: str  # the API calls it makes, for the plan
    check: Callable[[Context], Check]
    apply: Callable[[Context], None]
    # Skipped (reported "deferred") rather than failing the run when its region is down: the
    # old primary may be gone; re-running the command later finishes it.
    deferrable: bool = False


# --- health checks -----------------------------------------------------------------------------


def _fence_check_step(region: RegionNames, *, fenced: bool, deferrable: bool = False) -> Step:
    """Fence (`fenced=True`) or unfence a region's health check.

    Route 53 treats a health check that is both disabled and inverted as unhealthy whatever
    the endpoint answers (a disabled check alone counts as healthy; `Inverted` alone flips a
    real result, so a recovered region would flip back): its record can never answer.
    Unfencing clears both flags, so the check reports the endpoint again."""

    def check(ctx: Context) -> Check:
        config = health_check(ctx, region)["HealthCheckConfig"]
        flags = (bool(config.get("Disabled")), bool(config.get("Inverted")))
        return Check(
            flags == (fenced, fenced),
            f"{region.hostname}: Disabled={config.get('Disabled')}"
            f" Inverted={config.get('Inverted')}",
        )

    def apply(ctx: Context) -> None:
        check_id = health_check(ctx, region)["Id"]
        ctx.route53("update_health_check", HealthCheckId=check_id, Disabled=fenced, Inverted=fenced)

    flag = "true" if fenced else "false"
    return Step(
        f"{'' if fenced else 'un'}fence-health-check-{region.region}",
        GLOBAL,
        f"route53:UpdateHealthCheck(Disabled={flag}, Inverted={flag})",
        check,
        apply,
        deferrable=deferrable,
    )


# --- DNS ---------------------------------------------------------------------------------------


def _dns_step(target: RegionNames, *, deferrable: bool) -> Step:
    """Make the PRIMARY failover record answer with `target`'s regional name under `target`'s
    health check: the choice is now deliberate, not a side effect of a failing check, and the
    other region's name is no longer in the PRIMARY record (it cannot take traffic back)."""
    primary_id = SET_IDENTIFIERS["PRIMARY"]

    def check(ctx: Context) -> Check:
        record = failover_records(ctx, hosted_zone_id(ctx)).get(primary_id)
        if record is None:
            return Check(False, f"no PRIMARY record for {ctx.names.api_hostname}")
        check_id = health_check(ctx, target)["Id"]
        done = record_target(record) == target.hostname and record.get("HealthCheckId") == check_id
        return Check(done, f"PRIMARY -> {record_target(record)}")

    def apply(ctx: Context) -> None:
        zone_id = hosted_zone_id(ctx)
        change = {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": ctx.names.api_hostname,
                "Type": "CNAME",
                "SetIdentifier": primary_id,
                "Failover": "PRIMARY",
                "TTL": ctx.names.ttl,
                "ResourceRecords": [{"Value": target.hostname}],
                "HealthCheckId": health_check(ctx, target)["Id"],
            },
        }
        ctx.route53(
            "change_resource_record_sets",
            HostedZoneId=zone_id,
            ChangeBatch={"Comment": f"utp-infra dr: {target.region}", "Changes": [change]},
        )

    return Step(
        f"dns-to-{target.region}",
        GLOBAL,
        f"route53:ChangeResourceRecordSets(UPSERT PRIMARY CNAME -> {target.hostname})",
        check,
        apply,
        deferrable=deferrable,
    )


# --- the database ------------------------------------------------------------------------------


def _ingress_on_port(permission: dict[str, Any]) -> bool:
    if permission.get("IpProtocol") == "-1":
        return True
    low, high = permission.get("FromPort"), permission.get("ToPort")
    return low is not None and high is not None and low <= POSTGRES_PORT <= high


def _open_permissions(ctx: Context, region: str, instance: dict[str, Any]) -> dict[str, list[Any]]:
    """The database security groups' ingress rules that still let anyone reach PostgreSQL."""
    ids = [g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])]
    if not ids:
        return {}
    groups = ctx.clients.call("ec2", region, "describe_security_groups", GroupIds=ids)
    found = {}
    for group in groups["SecurityGroups"]:
        rules = [p for p in group.get("IpPermissions", []) if _ingress_on_port(p)]
        if rules:
            found[group["GroupId"]] = rules
    return found


def _fence_db_step(region: RegionNames, *, deferrable: bool) -> Step:
    """Make the region's database unreachable, so nothing can write to it: revoke the
    PostgreSQL ingress of its security groups (new connections), reboot it (the connections
    already open: security groups keep tracked connections), then tag it as fenced."""

    def check(ctx: Context) -> Check:
        instance = db_instance(ctx, region)
        if instance is None:
            return Check(True, f"{region.database} does not exist")
        open_rules = _open_permissions(ctx, region.region, instance)
        when = fenced_at(ctx, region.region, instance)
        if open_rules:
            return Check(
                False,
                f"{region.database}: port {POSTGRES_PORT} open in {', '.join(sorted(open_rules))}",
            )
        if when is None:
            return Check(False, f"{region.database}: ingress revoked, not yet rebooted")
        return Check(True, f"{region.database} fenced at {when}")

    def apply(ctx: Context) -> None:
        instance = db_instance(ctx, region)
        if instance is None:
            return
        for group_id, rules in _open_permissions(ctx, region.region, instance).items():
            ctx.clients.call(
                "ec2",
                region.region,
                "revoke_security_group_ingress",
                GroupId=group_id,
                IpPermissions=rules,
            )
        if instance.get("DBInstanceStatus") == "available":
            ctx.rds(region.region, "reboot_db_instance", DBInstanceIdentifier=region.database)
        ctx.rds(
            region.region,
            "add_tags_to_resource",
            ResourceName=instance["DBInstanceArn"],
            Tags=[{"Key": FENCE_TAG, "Value": ctx.now().isoformat(timespec="seconds")}],
        )

    return Step(
        f"fence-database-{region.region}",
        region.region,
        f"ec2:RevokeSecurityGroupIngress(port {POSTGRES_PORT}), rds:RebootDBInstance,"
        f" rds:AddTagsToResource({FENCE_TAG}) on {region.database}",
        check,
        apply,
        deferrable=deferrable,
    )


def _unfence_db_step(region: RegionNames) -> Step:
    """Let the region's cluster reach its database again: the rule the program grants (port
    5432 from the EKS cluster security group), and the fence tag removed."""

    def cluster_group(ctx: Context) -> str:
        cluster = ctx.clients.call("eks", region.region, "describe_cluster", name=region.cluster)
        return str(cluster["cluster"]["resourcesVpcConfig"]["clusterSecurityGroupId"])

    def check(ctx: Context) -> Check:
        instance = db_instance(ctx, region)
        if instance is None:
            return Check(False, f"{region.database} does not exist")
        source = cluster_group(ctx)
        allowed = any(
            pair.get("GroupId") == source
            for rules in _open_permissions(ctx, region.region, instance).values()
            for rule in rules
            for pair in rule.get("UserIdGroupPairs", [])
        )
        when = fenced_at(ctx, region.region, instance)
        return Check(
            allowed and when is None,
            f"{region.database}: port {POSTGRES_PORT} from {source}: {allowed}, fence tag: {when}",
        )

    def apply(ctx: Context) -> None:
        instance = db_instance(ctx, region)
        if instance is None:
            raise StepFailed(f"{region.database} does not exist in {region.region}")
        source = cluster_group(ctx)
        for group in instance.get("VpcSecurityGroups", []):
            rule = {
                "IpProtocol": "tcp",
                "FromPort": POSTGRES_PORT,
                "ToPort": POSTGRES_PORT,
                "UserIdGroupPairs": [{"GroupId": source, "Description": "EKS workloads"}],
            }
            try:
                ctx.clients.call(
                    "ec2",
                    region.region,
                    "authorize_security_group_ingress",
                    GroupId=group["VpcSecurityGroupId"],
                    IpPermissions=[rule],
                )
            except ClientError as exc:
                if error_code(exc) != "InvalidPermission.Duplicate":
                    raise
        ctx.rds(
            region.region,
            "remove_tags_from_resource",
            ResourceName=instance["DBInstanceArn"],
            TagKeys=[FENCE_TAG],
        )

    return Step(
        f"unfence-database-{region.region}",
        region.region,
        f"ec2:AuthorizeSecurityGroupIngress(port {POSTGRES_PORT} from the EKS cluster group),"
        f" rds:RemoveTagsFromResource({FENCE_TAG})",
        check,
        apply,
    )


def _wait_for(ctx: Context, what: str, timeout: float, ready: Callable[[], bool]) -> None:
    waited = 0.0
    while not ready():
        if waited >= timeout:
            raise StepFailed(f"{what}: not done after {int(timeout)} s")
        ctx.sleep(ctx.poll_seconds)
        waited += ctx.poll_seconds


def _promote_step(region: RegionNames) -> Step:
    """Promote the region's read replica. Only the backup retention is passed: the master
    password stays the one the pods already use (a managed master password would replace it)."""

    def settled(ctx: Context) -> dict[str, Any]:
        instance = db_instance(ctx, region)
        if instance is None:
            raise StepFailed(f"{region.database} does not exist in {region.region}")
        return instance

    def check(ctx: Context) -> Check:
        instance = settled(ctx)
        status = instance.get("DBInstanceStatus")
        if replica_source(instance):
            return Check(
                False, f"{region.database}: replica of {replica_source(instance)} ({status})"
            )
        return Check(status == "available", f"{region.database}: standalone ({status})")

    def apply(ctx: Context) -> None:
        # A promotion already under way (an interrupted run) is waited for, not repeated.
        _wait_for(
            ctx,
            f"{region.database} available",
            ctx.promote_timeout_seconds,
            lambda: settled(ctx).get("DBInstanceStatus") == "available",
        )
        if replica_source(settled(ctx)):
            ctx.rds(
                region.region,
                "promote_read_replica",
                DBInstanceIdentifier=region.database,
                BackupRetentionPeriod=ctx.names.backup_retention_days,
            )
        _wait_for(
            ctx, f"{region.database} promoted", ctx.promote_timeout_seconds, lambda: check(ctx).done
        )

    return Step(
        f"promote-database-{region.region}",
        region.region,
        f"rds:PromoteReadReplica({region.database}, BackupRetentionPeriod), then wait",
        check,
        apply,
    )


def _backups_step(region: RegionNames) -> Step:
    """Automated backups (daily snapshot + transaction logs: point-in-time restore) on the
    promoted instance, kept as long as the stack keeps them."""

    def check(ctx: Context) -> Check:
        instance = db_instance(ctx, region)
        days = int(instance.get("BackupRetentionPeriod", 0)) if instance else 0
        return Check(
            days >= ctx.names.backup_retention_days,
            f"{region.database}: backup retention {days} days",
        )

    def apply(ctx: Context) -> None:
        ctx.rds(
            region.region,
            "modify_db_instance",
            DBInstanceIdentifier=region.database,
            BackupRetentionPeriod=ctx.names.backup_retention_days,
            ApplyImmediately=True,
        )

    return Step(
        f"backups-{region.region}",
        region.region,
        "rds:ModifyDBInstance(BackupRetentionPeriod, ApplyImmediately)",
        check,
        apply,
    )


def _lag_drained_step(replica: RegionNames) -> Step:
    """With the writer fenced, wait until the replica has applied everything (lag 0)."""

    def check(ctx: Context) -> Check:
        instance = db_instance(ctx, replica)
        if instance is not None and not replica_source(instance):
            # Promoted already (a resumed run): RDS publishes no ReplicaLag for it any more.
            return Check(True, f"{replica.database}: promoted, nothing left to apply")
        lag = replica_lag_seconds(ctx, replica)
        return Check(lag == 0, f"{replica.database}: ReplicaLag {lag} s")

    def apply(ctx: Context) -> None:
        _wait_for(
            ctx,
            f"{replica.database} caught up",
            ctx.promote_timeout_seconds,
            lambda: check(ctx).done,
        )

    return Step(
        f"replica-caught-up-{replica.region}",
        replica.region,
        "cloudwatch:GetMetricStatistics(AWS/RDS ReplicaLag) until 0",
        check,
        apply,
    )


# --- the service -------------------------------------------------------------------------------


def _service_writable_step(region: RegionNames) -> Step:
    """The service follows its database (`pg_is_in_recovery()`): once promoted, its
    `/health/ready` reports role "primary" and it takes writes. A service that does not report
    the role is taken at its word once ready."""

    def check(ctx: Context) -> Check:
        ready, role, detail = service_role(ctx, region)
        if ready and role is None:
            return Check(True, f"{detail}, ready (no role reported)")
        return Check(ready and role == "primary", f"{detail}, role {role}")

    def apply(ctx: Context) -> None:
        _wait_for(
            ctx,
            f"{region.region} service read-write",
            ctx.ready_timeout_seconds,
            lambda: check(ctx).done,
        )

    return Step(
        f"service-read-write-{region.region}",
        region.region,
        "GET /health/ready until role=primary (the service follows pg_is_in_recovery())",
        check,
        apply,
    )


# --- plans -------------------------------------------------------------------------------------


def failover_steps(old: RegionNames, new: RegionNames) -> list[Step]:
    """From `old` (lost or failing) to `new`. Fencing comes first: nothing may write to, or
    route to, the old primary once the new one takes writes. The Route 53 steps are deferred
    rather than blocking the promotion when Route 53's API (hosted in us-east-1) is down too:
    its data plane already answers with the DR region while the old primary's check fails."""
    return [
        _fence_check_step(old, fenced=True, deferrable=True),
        _fence_db_step(old, deferrable=True),
        _promote_step(new),
        _backups_step(new),
        _service_writable_step(new),
        _dns_step(new, deferrable=True),
    ]


def failback_steps(current: RegionNames, home: RegionNames) -> list[Step]:
    """Back from `current` to `home`, rebuilt as a replica of `current`: a planned switch with
    both regions up, so the writer is fenced first and the replica drained (no data lost)."""
    return [
        _fence_db_step(current, deferrable=False),
        _unfence_db_step(home),
        _lag_drained_step(home),
        _promote_step(home),
        _backups_step(home),
        _service_writable_step(home),
        _fence_check_step(home, fenced=False),
        _dns_step(home, deferrable=False),
    ]
