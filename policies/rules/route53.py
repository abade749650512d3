"""Route 53 failover records and health checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.helpers import (
    ADVISORY,
    Res,
    as_list,
    as_str,
    get,
    is_set,
    of_type,
    resource_rule,
    stack_rule,
    types,
)

RECORD = types("aws:route53/record:Record")
HEALTH_CHECK = types("aws:route53/healthCheck:HealthCheck")

StackFinding = Iterator[tuple[str, str | None]]


def failover_role(record: Res) -> str | None:
    for policy in as_list(record.get("failoverRoutingPolicies")):
        role = as_str(get(policy, "type")).upper()
        if role:
            return role
    return None


def failover_groups(resources: list[Res]) -> dict[tuple[str, str, str], list[Res]]:
    """Failover records keyed by (zone, name, type)."""
    groups: dict[tuple[str, str, str], list[Res]] = {}
    for record in of_type(resources, RECORD):
        if failover_role(record) is None:
            continue
        key = (
            str(record.get("zoneId")),
            as_str(record.get("name")).rstrip(".").lower(),
            as_str(record.get("type")),
        )
        groups.setdefault(key, []).append(record)
    return groups


def _primary_health_checked(resources: list[Res], _config: Mapping[str, Any]) -> StackFinding:
    for (_zone, name, rtype), records in failover_groups(resources).items():
        primaries = [r for r in records if failover_role(r) == "PRIMARY"]
        if not primaries:
            yield f"failover record {name} ({rtype}) has no PRIMARY.", records[0].urn
        for primary in primaries:
            if not is_set(primary.get("healthCheckId")):
                yield (
                    f"PRIMARY failover record {name} ({rtype}) has no health check, so Route 53 "
                    "never fails over.",
                    primary.urn,
                )


def _has_secondary(resources: list[Res], _config: Mapping[str, Any]) -> StackFinding:
    for (_zone, name, rtype), records in failover_groups(resources).items():
        if not any(failover_role(r) == "SECONDARY" for r in records):
            yield f"failover record {name} ({rtype}) has no SECONDARY.", records[0].urn


def _health_check_https(res: Res) -> Iterator[str]:
    kind = as_str(res.get("type"))
    if kind in ("CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
        return
    if kind not in ("HTTPS", "HTTPS_STR_MATCH"):
        yield f"the health check probes over {kind or '?'}, not HTTPS."
    if not is_set(res.get("resourcePath")) or res.get("resourcePath") == "/":
        yield "the health check does not probe a readiness path (resourcePath)."


RULES = [
    stack_rule(
        name="aws-route53-failover-primary-health-check",
        description="Each Route 53 failover name has a PRIMARY record with a health check.",
        area="route53",
        check=_primary_health_checked,
        fix="give the PRIMARY record healthCheckId=<aws.route53.HealthCheck on /health/ready>.",
    ),
    stack_rule(
        name="aws-route53-failover-secondary",
        description="Each Route 53 failover name has a SECONDARY record to fail over to.",
        area="route53",
        check=_has_secondary,
        fix="add a record with the same name and type, failoverRoutingPolicies "
        "[{type: 'SECONDARY'}] and its own setIdentifier, pointing at the DR region.",
    ),
    resource_rule(
        name="aws-route53-health-check-https",
        description="Route 53 endpoint health checks probe a readiness path over HTTPS.",
        area="route53",
        types=HEALTH_CHECK,
        check=_health_check_https,
        fix="set type='HTTPS', port=443 and resourcePath='/health/ready'.",
        level=ADVISORY,
    ),
]
