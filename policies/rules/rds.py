"""RDS instances (primary and cross-region replica) and their parameter groups."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

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
    of_type,
    refers_to,
    resource_rule,
    stack_rule,
    types,
)

INSTANCE = types("aws:rds/instance:Instance")
PARAMETER_GROUP = types("aws:rds/parameterGroup:ParameterGroup")

MINIMUM_BACKUP_DAYS = 7
POSTGRES_MAJOR = "16"


def is_replica(res: Res) -> bool:
    return is_set(res.get("replicateSourceDb"))


def _is_postgres(res: Res) -> bool:
    engine = res.get("engine")
    return not isinstance(engine, str) or engine.startswith("postgres")


def _storage_encrypted(res: Res) -> Iterator[str]:
    if not is_true(res.get("storageEncrypted")):
        yield "storage is not encrypted (storageEncrypted)."
    if not is_set(res.get("kmsKeyId")):
        yield "storage is not encrypted with a customer-managed KMS key (kmsKeyId)."


def _not_public(res: Res) -> Iterator[str]:
    if is_true(res.get("publiclyAccessible")) and res.get("publiclyAccessible") is not UNKNOWN:
        yield "the instance is publicly accessible."


def _multi_az(res: Res) -> Iterator[str]:
    if not is_replica(res) and not is_true(res.get("multiAz")):
        yield "the primary is single-AZ."


def _backup_retention(res: Res) -> Iterator[str]:
    days = as_int(res.get("backupRetentionPeriod"))
    if res.get("backupRetentionPeriod") is UNKNOWN:
        return
    if is_replica(res):
        if not days:
            yield "the replica keeps no backups, so it cannot be promoted cleanly."
        return
    minimum = int(res.setting("minimumDays", MINIMUM_BACKUP_DAYS))
    if days is None or days < minimum:
        yield f"backup retention is {days or 0} days (minimum {minimum})."


def _deletion_protection(res: Res) -> Iterator[str]:
    if not is_true(res.get("deletionProtection")):
        yield "deletion protection is off."


def _final_snapshot(res: Res) -> Iterator[str]:
    if is_replica(res):
        return  # RDS does not take final snapshots of read replicas.
    if is_true(res.get("skipFinalSnapshot")) and res.get("skipFinalSnapshot") is not UNKNOWN:
        yield "skipFinalSnapshot is set."
    elif not is_set(res.get("finalSnapshotIdentifier")):
        yield "no finalSnapshotIdentifier is set."


def _performance_insights(res: Res) -> Iterator[str]:
    if not is_true(res.get("performanceInsightsEnabled")):
        yield "Performance Insights is off."
    elif not is_set(res.get("performanceInsightsKmsKeyId")):
        yield "Performance Insights data is not encrypted with a customer-managed KMS key."


def _enhanced_monitoring(res: Res) -> Iterator[str]:
    interval = as_int(res.get("monitoringInterval"))
    if res.get("monitoringInterval") is UNKNOWN:
        return
    if not interval:
        yield "enhanced monitoring is off (monitoringInterval 0)."
    elif not is_set(res.get("monitoringRoleArn")):
        yield "enhanced monitoring has no monitoringRoleArn."


def _log_exports(res: Res) -> Iterator[str]:
    exports = {as_str(e) for e in as_list(res.get("enabledCloudwatchLogsExports"))}
    if res.get("enabledCloudwatchLogsExports") is UNKNOWN:
        return
    if _is_postgres(res) and "postgresql" not in exports:
        yield "the postgresql log is not exported to CloudWatch."
    elif not exports:
        yield "no logs are exported to CloudWatch."


def _force_ssl(res: Res) -> Iterator[str]:
    if res.type in PARAMETER_GROUP:
        family = as_str(res.get("family"))
        if family and not family.startswith("postgres"):
            return
        for param in as_list(res.get("parameters")):
            if as_str(get(param, "name")) == "rds.force_ssl":
                value = get(param, "value")
                if value is UNKNOWN or str(value).lower() in ("1", "true"):
                    return
                yield f"rds.force_ssl is {value!r}, not 1."
                return
        yield "the parameter group does not set rds.force_ssl=1."
        return
    group = res.get("parameterGroupName")
    if not _is_postgres(res):
        return
    if not is_set(group) or as_str(group).startswith("default."):
        yield "the instance uses the default parameter group, which does not force TLS."


def _master_password(res: Res) -> Iterator[str]:
    if is_replica(res):
        return  # a replica inherits its source's credentials
    if is_true(res.get("manageMasterUserPassword")):
        yield (
            "RDS manages the master password in Secrets Manager, and RDS cannot create a read"
            " replica of such an instance (no cross-region replica, no DR)."
        )
    elif not is_set(res.get("password")):
        yield "no master password is set."


def _postgres_version(res: Res) -> Iterator[str]:
    engine = res.get("engine")
    if is_replica(res) and engine is None:
        return  # a replica inherits engine and version from its source
    if engine != "postgres":
        yield f"engine is {engine!r}, not postgres."
        return
    version = res.get("engineVersion")
    if version is UNKNOWN or (is_replica(res) and version is None):
        return
    if not isinstance(version, str) or version.split(".")[0] != POSTGRES_MAJOR:
        yield f"engineVersion is {version!r}, not PostgreSQL {POSTGRES_MAJOR}."


def _cross_region_replica(
    resources: list[Res], _config: Mapping[str, Any]
) -> Iterator[tuple[str, str | None]]:
    instances = of_type(resources, INSTANCE)
    replicas = [r for r in instances if is_replica(r)]
    for primary in instances:
        if is_replica(primary):
            continue
        remote = [
            r
            for r in replicas
            if refers_to(r, "replicateSourceDb", primary)
            and r.region is not None
            and r.region != primary.region
        ]
        if not remote:
            yield (
                f"RDS primary '{primary.name}' ({primary.region or 'unknown region'}) has no "
                "read replica in another region.",
                primary.urn,
            )


RULES = [
    resource_rule(
        name="aws-rds-storage-encrypted",
        description="RDS instances encrypt storage with a customer-managed KMS key.",
        area="rds",
        types=INSTANCE,
        check=_storage_encrypted,
        fix="set storageEncrypted=True and kmsKeyId to a CMK in the instance's region.",
    ),
    resource_rule(
        name="aws-rds-not-public",
        description="RDS instances are not publicly accessible.",
        area="rds",
        types=INSTANCE,
        check=_not_public,
        fix="set publiclyAccessible=False and place the instance in private database subnets.",
    ),
    resource_rule(
        name="aws-rds-multi-az",
        description="RDS primaries run Multi-AZ.",
        area="rds",
        types=INSTANCE,
        check=_multi_az,
        fix="set multiAz=True.",
        production_only=True,
    ),
    resource_rule(
        name="aws-rds-backup-retention",
        description="RDS primaries keep >= 7 days of backups; replicas keep some (promotable).",
        area="rds",
        types=INSTANCE,
        check=_backup_retention,
        fix="set backupRetentionPeriod >= 7 on the primary and > 0 on replicas.",
        config={"minimumDays": {"type": "integer", "default": MINIMUM_BACKUP_DAYS}},
    ),
    resource_rule(
        name="aws-rds-deletion-protection",
        description="RDS instances have deletion protection.",
        area="rds",
        types=INSTANCE,
        check=_deletion_protection,
        fix="set deletionProtection=True.",
        production_only=True,
    ),
    resource_rule(
        name="aws-rds-final-snapshot",
        description="RDS primaries take a final snapshot when deleted.",
        area="rds",
        types=INSTANCE,
        check=_final_snapshot,
        fix="set skipFinalSnapshot=False and a finalSnapshotIdentifier.",
        production_only=True,
    ),
    resource_rule(
        name="aws-rds-performance-insights-kms",
        description="RDS Performance Insights is on and encrypted with a customer-managed KMS key.",
        area="rds",
        types=INSTANCE,
        check=_performance_insights,
        fix="set performanceInsightsEnabled=True and performanceInsightsKmsKeyId to a CMK.",
    ),
    resource_rule(
        name="aws-rds-enhanced-monitoring",
        description="RDS instances have enhanced monitoring.",
        area="rds",
        types=INSTANCE,
        check=_enhanced_monitoring,
        fix="set monitoringInterval (e.g. 60) and a monitoringRoleArn with "
        "AmazonRDSEnhancedMonitoringRole.",
        level=ADVISORY,
    ),
    resource_rule(
        name="aws-rds-log-exports",
        description="RDS instances export their engine logs to CloudWatch.",
        area="rds",
        types=INSTANCE,
        check=_log_exports,
        fix="set enabledCloudwatchLogsExports=['postgresql', 'upgrade'].",
    ),
    resource_rule(
        name="aws-rds-force-ssl",
        description="PostgreSQL instances use a parameter group that forces TLS (rds.force_ssl=1).",
        area="rds",
        types=INSTANCE | PARAMETER_GROUP,
        check=_force_ssl,
        fix="create an aws.rds.ParameterGroup with rds.force_ssl=1 in the instance's region and "
        "set parameterGroupName to it.",
    ),
    resource_rule(
        name="aws-rds-master-password",
        description="RDS primaries take a generated master password (kept in a Secrets Manager "
        "secret replicated with the database), not an RDS-managed one, which forbids replicas.",
        area="rds",
        types=INSTANCE,
        check=_master_password,
        fix="drop manageMasterUserPassword; pass a pulumi-random RandomPassword's result as "
        "`password` and store it in a secretsmanager.Secret with `replicas` in the DR region.",
    ),
    resource_rule(
        name="aws-rds-postgres-16",
        description="RDS instances run PostgreSQL 16, the version the service is tested on.",
        area="rds",
        types=INSTANCE,
        check=_postgres_version,
        fix="set engine='postgres' and engineVersion='16' (or a 16.x minor).",
        level=ADVISORY,
    ),
    stack_rule(
        name="aws-rds-cross-region-replica",
        description="Every RDS primary has a read replica in another region (disaster recovery).",
        area="rds",
        check=_cross_region_replica,
        fix="create an aws.rds.Instance in the DR region with replicateSourceDb=<primary ARN> and "
        "kmsKeyId=<DR-region CMK>.",
        production_only=True,
    ),
]
