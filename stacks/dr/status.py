"""`utp-infra dr status`: each region's database role, the replica lag (the RPO if the primary
were lost now), the health checks, the DNS answer and the newest backup in the DR region."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from stacks.dr.aws import RegionUnreachable
from stacks.dr.names import RegionNames
from stacks.dr.plan import RPO_SECONDS
from stacks.dr.state import (
    Context,
    db_instance,
    dns_answer,
    effective_health,
    failover_records,
    fenced_at,
    health_check,
    hosted_zone_id,
    observed_healthy,
    record_target,
    replica_lag_seconds,
    replica_source,
    role_of,
    service_role,
)


def _region(ctx: Context, region: RegionNames, configured_role: str) -> dict[str, Any]:
    out: dict[str, Any] = {"region": region.region, "configured_role": configured_role}
    try:
        instance = db_instance(ctx, region)
        out["database"] = {
            "identifier": region.database,
            "role": role_of(instance),
            "status": instance.get("DBInstanceStatus") if instance else None,
            "replicates_from": replica_source(instance) if instance else None,
            "backup_retention_days": instance.get("BackupRetentionPeriod") if instance else None,
            "fenced_at": fenced_at(ctx, region.region, instance) if instance else None,
        }
        if instance is not None and role_of(instance) == "replica":
            lag = replica_lag_seconds(ctx, region)
            out["replica_lag_seconds"] = lag
            out["rpo_met"] = lag is not None and lag <= RPO_SECONDS
        out["reachable"] = True
    except RegionUnreachable as exc:
        out["reachable"] = False
        out["error"] = str(exc)
    ready, role, detail = service_role(ctx, region)
    out["service"] = {"ready": ready, "role": role, "detail": detail}
    return out


def _dns(ctx: Context) -> dict[str, Any]:
    n = ctx.names
    checks: dict[str, Any] = {}
    health: dict[str, bool | None] = {}
    for region in (n.primary, n.dr):
        check = health_check(ctx, region)
        config = check["HealthCheckConfig"]
        observed = observed_healthy(ctx, check["Id"])
        effective = effective_health(config, observed)
        health[check["Id"]] = effective
        checks[region.region] = {
            "id": check["Id"],
            "fqdn": region.hostname,
            "disabled": bool(config.get("Disabled")),
            "inverted": bool(config.get("Inverted")),
            "observed_healthy": observed,
            "healthy": effective,
        }
    records = failover_records(ctx, hosted_zone_id(ctx))
    return {
        "health_checks": checks,
        "records": {
            key: {
                "failover": r.get("Failover"),
                "target": record_target(r),
                "health_check_id": r.get("HealthCheckId"),
            }
            for key, r in sorted(records.items())
        },
        "answer": {"hostname": n.api_hostname, **dns_answer(records, health)},
    }


def _newest_backup(ctx: Context) -> dict[str, Any]:
    """The newest complete logical backup (its manifest.json) replicated into the DR bucket."""
    region = ctx.names.dr.region
    account = ctx.clients.call("sts", region, "get_caller_identity")["Account"]
    bucket = f"{ctx.names.replica_bucket_prefix}{account}"
    newest: dict[str, Any] | None = None
    token: str | None = None
    while True:
        page = ctx.clients.call(
            "s3",
            region,
            "list_objects_v2",
            Bucket=bucket,
            **({"ContinuationToken": token} if token else {}),
        )
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/manifest.json") and (
                newest is None or obj["LastModified"] > newest["LastModified"]
            ):
                newest = obj
        if not page.get("IsTruncated"):
            break
        token = page["NextContinuationToken"]
    if newest is None:
        return {"bucket": bucket, "newest": None}
    return {
        "bucket": bucket,
        "newest": newest["Key"].rsplit("/", 1)[0],
        "at": newest["LastModified"].isoformat(),
    }


def status(ctx: Context, *, stack: str) -> dict[str, Any]:
    n = ctx.names
    out: dict[str, Any] = {
        "stack": stack,
        "regions": [_region(ctx, n.primary, "primary"), _region(ctx, n.dr, "dr")],
    }
    try:
        out["dns"] = _dns(ctx)
    except (RegionUnreachable, ClientError, LookupError) as exc:
        out["dns"] = {"error": str(exc)}
    try:
        out["dr_backups"] = _newest_backup(ctx)
    except (RegionUnreachable, ClientError) as exc:
        out["dr_backups"] = {"error": str(exc)}
    return out
