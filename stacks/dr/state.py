"""What is true now, read from the APIs: database roles, replica lag, health checks, DNS."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from infra.dns import SET_IDENTIFIERS
from stacks.dr.aws import Clients, RegionUnreachable, error_code
from stacks.dr.names import DrNames, RegionNames

# Tag on an RDS instance whose network access `dr` revoked (value: when, ISO 8601 UTC).
FENCE_TAG = "utp:dr-fenced"
POSTGRES_PORT = 5432

# GET url -> (HTTP status, JSON body or {}); raises OSError-like errors when nothing answers.
ReadyFetcher = Callable[[str], tuple[int, dict[str, Any]]]


def _fetch_ready(url: str) -> tuple[int, dict[str, Any]]:
    import httpx

    response = httpx.get(url, timeout=5.0)
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body if isinstance(body, dict) else {}


@dataclass
class Context:
    """Everything a step needs: names, clients, the clock and how to wait."""

    names: DrNames
    clients: Clients
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    sleep: Callable[[float], None] = time.sleep
    fetch_ready: ReadyFetcher = _fetch_ready
    # Where each region's service answers /health/ready; default https://<regional hostname>.
    ready_urls: dict[str, str] = field(default_factory=dict)
    poll_seconds: float = 15.0
    promote_timeout_seconds: float = 30 * 60
    ready_timeout_seconds: float = 5 * 60

    def ready_url(self, region: RegionNames) -> str:
        return self.ready_urls.get(
            region.region, f"https://{region.hostname}{self.names.health_path}"
        )

    def route53(self, method: str, **kwargs: Any) -> Any:
        # Route 53 is global (route53.amazonaws.com): the client's region does not matter, but
        # its control plane is hosted in us-east-1, so a regional outage can take it too.
        return self.clients.call(
            "route53", self.names.dr.region, method, where="Route 53", **kwargs
        )

    def rds(self, region: str, method: str, **kwargs: Any) -> Any:
        return self.clients.call("rds", region, method, **kwargs)


# --- RDS ---------------------------------------------------------------------------------------


def db_instance(ctx: Context, region: RegionNames) -> dict[str, Any] | None:
    """The region's instance, or None when it does not exist."""
    try:
        found = ctx.rds(
            region.region, "describe_db_instances", DBInstanceIdentifier=region.database
        )
    except ClientError as exc:
        if error_code(exc) == "DBInstanceNotFound":
            return None
        raise
    return dict(found["DBInstances"][0])


def replica_source(instance: dict[str, Any]) -> str | None:
    """The source instance (identifier or ARN) of a read replica; None for a primary."""
    source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
    return str(source) if source else None


def role_of(instance: dict[str, Any] | None) -> str:
    if instance is None:
        return "absent"
    return "replica" if replica_source(instance) else "primary"


def replicates_from(instance: dict[str, Any], source: RegionNames) -> bool:
    """True if `instance` is a read replica of `source`'s database (cross-region: by ARN)."""
    return names_database(replica_source(instance), source)


def names_database(src: str | None, source: RegionNames) -> bool:
    """True if a replica's source `src` (identifier, or ARN cross-region) is `source`'s
    database."""
    src = src or ""
    if src.startswith("arn:"):
        parts = src.split(":")
        return parts[3] == source.region and parts[-1] == source.database
    return src == source.database


def fenced_at(ctx: Context, region: str, instance: dict[str, Any]) -> str | None:
    tags = ctx.rds(region, "list_tags_for_resource", ResourceName=instance["DBInstanceArn"])
    for tag in tags.get("TagList", []):
        if tag["Key"] == FENCE_TAG:
            return str(tag["Value"])
    return None


def replica_lag_seconds(ctx: Context, region: RegionNames) -> float | None:
    """The newest CloudWatch `ReplicaLag` (seconds) of the region's instance in the last 15
    minutes; None when there is no datapoint (no replica, or metrics not yet published)."""
    end = ctx.now()
    stats = ctx.clients.call(
        "cloudwatch",
        region.region,
        "get_metric_statistics",
        Namespace="AWS/RDS",
        MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": region.database}],
        StartTime=end - dt.timedelta(minutes=15),
        EndTime=end,
        Period=60,
        Statistics=["Maximum"],
    )
    points = sorted(stats.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None


# --- Route 53 ----------------------------------------------------------------------------------


def hosted_zone_id(ctx: Context) -> str:
    zone = ctx.names.zone.rstrip(".") + "."
    found = ctx.route53("list_hosted_zones_by_name", DNSName=zone)
    for candidate in found.get("HostedZones", []):
        if candidate["Name"] == zone and not candidate.get("Config", {}).get("PrivateZone"):
            return str(candidate["Id"]).rsplit("/", 1)[-1]
    raise LookupError(f"no public hosted zone {zone}")


def health_check(ctx: Context, region: RegionNames) -> dict[str, Any]:
    """The health check the program created on the region's `/health/ready` (found by what it
    checks: the regional hostname and path)."""
    marker: str | None = None
    while True:
        page = ctx.route53("list_health_checks", **({"Marker": marker} if marker else {}))
        for check in page.get("HealthChecks", []):
            config = check["HealthCheckConfig"]
            if (
                config.get("FullyQualifiedDomainName") == region.hostname
                and config.get("ResourcePath") == ctx.names.health_path
            ):
                return dict(check)
        if not page.get("IsTruncated"):
            raise LookupError(f"no Route 53 health check on {region.hostname}")
        marker = page["NextMarker"]


def observed_healthy(ctx: Context, check_id: str) -> bool | None:
    """What Route 53's checkers last saw (majority healthy), None when they report nothing."""
    try:
        status = ctx.route53("get_health_check_status", HealthCheckId=check_id)
    except ClientError:
        return None
    observations = status.get("HealthCheckObservations", [])
    if not observations:
        return None
    good = sum(1 for o in observations if o["StatusReport"]["Status"].startswith("Success"))
    return good * 2 > len(observations)


def effective_health(config: dict[str, Any], observed: bool | None) -> bool | None:
    """How Route 53 treats the check: disabled counts as healthy, unless also inverted; an
    inverted check flips what the checkers see."""
    inverted = bool(config.get("Inverted"))
    if config.get("Disabled"):
        return not inverted
    return None if observed is None else observed != inverted


def failover_records(ctx: Context, zone_id: str) -> dict[str, dict[str, Any]]:
    """The API hostname's failover records by set identifier ("primary", "secondary")."""
    name = ctx.names.api_hostname.rstrip(".") + "."
    page = ctx.route53(
        "list_resource_record_sets",
        HostedZoneId=zone_id,
        StartRecordName=name,
        StartRecordType="CNAME",
    )
    return {
        str(r["SetIdentifier"]): dict(r)
        for r in page.get("ResourceRecordSets", [])
        if r["Name"] == name and r.get("SetIdentifier") in SET_IDENTIFIERS.values()
    }


def record_target(record: dict[str, Any]) -> str:
    return str(record["ResourceRecords"][0]["Value"]).rstrip(".")


def dns_answer(
    records: dict[str, dict[str, Any]], health: dict[str, bool | None]
) -> dict[str, Any]:
    """Which failover record Route 53 answers with: PRIMARY while its health check is healthy,
    else SECONDARY if that one is; with both unhealthy Route 53 answers PRIMARY. `health` is by
    health check id (None: unknown)."""
    primary = records.get(SET_IDENTIFIERS["PRIMARY"])
    secondary = records.get(SET_IDENTIFIERS["SECONDARY"])
    if primary is None:
        return {
            "record": "secondary" if secondary else None,
            "target": record_target(secondary) if secondary else None,
            "certain": True,
        }
    primary_ok = health.get(str(primary.get("HealthCheckId")))
    secondary_ok = health.get(str(secondary.get("HealthCheckId"))) if secondary else False
    if primary_ok is None:
        return {"record": "primary?", "target": record_target(primary), "certain": False}
    if primary_ok or not secondary or secondary_ok is False:
        return {"record": "primary", "target": record_target(primary), "certain": True}
    return {
        "record": "secondary",
        "target": record_target(secondary),
        "certain": secondary_ok is not None,
    }


# --- the service -------------------------------------------------------------------------------


def service_role(ctx: Context, region: RegionNames) -> tuple[bool, str | None, str]:
    """(ready, role, detail) from the region's `/health/ready`; role is None when the service
    does not report it."""
    url = ctx.ready_url(region)
    try:
        status, body = ctx.fetch_ready(url)
    except Exception as exc:  # any transport failure: the service does not answer
        return False, None, f"{url}: no answer ({type(exc).__name__})"
    role = body.get("role")
    return status == 200, str(role) if role else None, f"{url}: HTTP {status}"


def reachable(ctx: Context, region: str) -> bool:
    """Whether the region's APIs answer at all (one cheap RDS call)."""
    try:
        ctx.rds(region, "describe_db_instances", MaxRecords=20)
    except RegionUnreachable:
        return False
    return True
