"""ElastiCache (Redis/Valkey) replication groups."""

from __future__ import annotations

from collections.abc import Iterator

from policies.helpers import (
    ADVISORY,
    UNKNOWN,
    Res,
    as_int,
    as_list,
    as_str,
    get,
    is_set,
    is_true,
    resource_rule,
    types,
)

REPLICATION_GROUP = types("aws:elasticache/replicationGroup:ReplicationGroup")
LOG_TYPES = ("slow-log", "engine-log")


def _at_rest(res: Res) -> Iterator[str]:
    if not is_true(res.get("atRestEncryptionEnabled")):
        yield "encryption at rest is off."
    if not is_set(res.get("kmsKeyId")):
        yield "data at rest is not encrypted with a customer-managed KMS key (kmsKeyId)."


def _in_transit(res: Res) -> Iterator[str]:
    if not is_true(res.get("transitEncryptionEnabled")):
        yield "in-transit encryption (TLS) is off."
    mode = res.get("transitEncryptionMode")
    if isinstance(mode, str) and mode != "required":
        yield f"transitEncryptionMode is {mode!r}; plaintext clients are still accepted."
    if not (
        is_set(res.get("authToken"))
        or is_set(res.get("authTokenWo"))
        or is_set(res.get("userGroupIds"))
    ):
        yield "clients are not authenticated (no authToken or RBAC userGroupIds)."


def _node_count(res: Res) -> int | None:
    clusters = as_int(res.get("numCacheClusters"))
    if clusters is not None:
        return clusters
    groups = as_int(res.get("numNodeGroups"))
    replicas = as_int(res.get("replicasPerNodeGroup"))
    if groups is not None or replicas is not None:
        return (replicas or 0) + 1
    return None


def _multi_az(res: Res) -> Iterator[str]:
    if not is_true(res.get("multiAzEnabled")):
        yield "Multi-AZ is off."
    if not is_true(res.get("automaticFailoverEnabled")):
        yield "automatic failover is off."
    nodes = _node_count(res)
    if nodes is not None and nodes < 2:
        yield f"the group has {nodes} node(s) per shard; failover needs at least 2."
    elif nodes is None and res.get("numCacheClusters") is not UNKNOWN:
        yield "the node count is not set (numCacheClusters defaults to 1)."


def _snapshots(res: Res) -> Iterator[str]:
    days = as_int(res.get("snapshotRetentionLimit"))
    if res.get("snapshotRetentionLimit") is not UNKNOWN and not days:
        yield "automatic snapshots are off (snapshotRetentionLimit 0)."


def _log_delivery(res: Res) -> Iterator[str]:
    if res.get("logDeliveryConfigurations") is UNKNOWN:
        return
    delivered = {as_str(get(c, "logType")) for c in as_list(res.get("logDeliveryConfigurations"))}
    missing = [t for t in LOG_TYPES if t not in delivered]
    if missing:
        yield f"log types not delivered: {', '.join(missing)}."


RULES = [
    resource_rule(
        name="aws-elasticache-at-rest-encryption-cmk",
        description="ElastiCache replication groups encrypt data at rest with a customer-managed "
        "key.",
        area="elasticache",
        types=REPLICATION_GROUP,
        check=_at_rest,
        fix="set atRestEncryptionEnabled=True and kmsKeyId to a CMK in the group's region.",
    ),
    resource_rule(
        name="aws-elasticache-transit-encryption-auth",
        description="ElastiCache replication groups require TLS and authenticate clients.",
        area="elasticache",
        types=REPLICATION_GROUP,
        check=_in_transit,
        fix="set transitEncryptionEnabled=True, transitEncryptionMode='required' and an authToken "
        "(pulumi-random, stored in Secrets Manager) or userGroupIds.",
    ),
    resource_rule(
        name="aws-elasticache-multi-az",
        description="ElastiCache replication groups are Multi-AZ with automatic failover and "
        ">= 2 nodes.",
        area="elasticache",
        types=REPLICATION_GROUP,
        check=_multi_az,
        fix="set multiAzEnabled=True, automaticFailoverEnabled=True and numCacheClusters >= 2.",
        production_only=True,
    ),
    resource_rule(
        name="aws-elasticache-snapshots",
        description="ElastiCache replication groups keep automatic snapshots.",
        area="elasticache",
        types=REPLICATION_GROUP,
        check=_snapshots,
        fix="set snapshotRetentionLimit >= 1 and a snapshotWindow.",
        production_only=True,
    ),
    resource_rule(
        name="aws-elasticache-log-delivery",
        description="ElastiCache replication groups deliver slow and engine logs.",
        area="elasticache",
        types=REPLICATION_GROUP,
        check=_log_delivery,
        fix="add logDeliveryConfigurations for 'slow-log' and 'engine-log' to a CloudWatch "
        "log group.",
        level=ADVISORY,
    ),
]
