"""CloudWatch log groups; Loki's retention and object storage."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from policies.helpers import (
    ADVISORY,
    UNKNOWN,
    Res,
    as_int,
    get,
    is_set,
    resource_rule,
    types,
)

LOG_GROUP = types("aws:cloudwatch/logGroup:LogGroup")
HELM_RELEASE = types("kubernetes:helm.sh/v3:Release")
MINIMUM_RETENTION_DAYS = 7


def _kms(res: Res) -> Iterator[str]:
    if not is_set(res.get("kmsKeyId")):
        yield "the log group is not encrypted with a customer-managed KMS key."


def _retention(res: Res) -> Iterator[str]:
    if res.get("retentionInDays") is UNKNOWN:
        return
    days = as_int(res.get("retentionInDays"))
    minimum = int(res.setting("minimumDays", MINIMUM_RETENTION_DAYS))
    if not days:
        yield "logs are kept forever (no retentionInDays)."
    elif days < minimum:
        yield f"retention is {days} days (minimum {minimum})."


def _loki_retention_and_archive(res: Res) -> Iterator[str]:
    values = res.get("values")
    if res.get("chart") != "loki" or not isinstance(values, Mapping):
        return  # another chart, or values masked as a secret: nothing to read offline
    if get(values, "loki", "compactor", "retention_enabled") is not True:
        yield "Loki's compactor does not apply retention (loki.compactor.retention_enabled)."
    if not is_set(get(values, "loki", "limits_config", "retention_period")):
        yield "Loki has no retention period (loki.limits_config.retention_period)."
    if get(values, "loki", "storage", "type", default="filesystem") == "filesystem":
        yield "Loki keeps its logs on a volume, not in the archived object store."


RULES = [
    resource_rule(
        name="aws-logs-kms-encrypted",
        description="CloudWatch log groups are encrypted with a customer-managed KMS key.",
        area="logs",
        types=LOG_GROUP,
        check=_kms,
        fix="set kmsKeyId to a CMK whose policy allows logs.<region>.amazonaws.com.",
    ),
    resource_rule(
        name="aws-logs-retention",
        description="CloudWatch log groups have a bounded retention.",
        area="logs",
        types=LOG_GROUP,
        check=_retention,
        fix="set retentionInDays (e.g. 30 on staging, 90+ on production).",
        level=ADVISORY,
        config={"minimumDays": {"type": "integer", "default": MINIMUM_RETENTION_DAYS}},
    ),
    resource_rule(
        name="k8s-loki-retention-archived",
        description="Loki applies a retention period and stores its logs in object storage "
        "(the bucket whose lifecycle keeps the archive).",
        area="logs",
        types=HELM_RELEASE,
        check=_loki_retention_and_archive,
        fix="set loki.limits_config.retention_period, loki.compactor.retention_enabled: true "
        "and loki.storage.type: s3 with the region's Loki bucket (infra/monitoring/values.py).",
    ),
]
