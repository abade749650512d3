"""CloudWatch log groups."""

from __future__ import annotations

from collections.abc import Iterator

from policies.helpers import ADVISORY, UNKNOWN, Res, as_int, is_set, resource_rule, types

LOG_GROUP = types("aws:cloudwatch/logGroup:LogGroup")
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
]
