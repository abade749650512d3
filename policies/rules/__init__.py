"""Every rule of the pack, by area; `ALL` is what `policies/__main__.py` hands to PolicyPack."""

from __future__ import annotations

from typing import Any

from policies.rules import (
    audit,
    autoscaling,
    edge,
    eks,
    elasticache,
    kms,
    kubernetes,
    logs,
    maintenance,
    network,
    protection,
    rds,
    route53,
    s3,
    tags,
    tls,
)

BY_AREA: dict[str, list[Any]] = {
    "eks": eks.RULES,
    "rds": rds.RULES,
    "elasticache": elasticache.RULES,
    "s3": s3.RULES,
    "kms": kms.RULES,
    "network": network.RULES,
    "logs": logs.RULES,
    "route53": route53.RULES,
    "kubernetes": kubernetes.RULES,
    "maintenance": maintenance.RULES,
    "autoscaling": autoscaling.RULES,
    "tls": tls.RULES,
    "pulumi": protection.RULES,
    "audit": audit.RULES,
    "cost": tags.RULES,
    "edge": edge.RULES,
}

ALL: list[Any] = [rule for rules in BY_AREA.values() for rule in rules]
