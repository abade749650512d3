"""KMS customer-managed keys."""

from __future__ import annotations

from collections.abc import Iterator

from policies.helpers import ADVISORY, UNKNOWN, Res, as_int, as_str, is_true, resource_rule, types

KEY = types("aws:kms/key:Key")
MINIMUM_DELETION_WINDOW = 14


def _symmetric(res: Res) -> bool:
    spec = as_str(res.get("customerMasterKeySpec")) or as_str(res.get("keySpec"))
    return spec in ("", "SYMMETRIC_DEFAULT")


def _rotation(res: Res) -> Iterator[str]:
    if _symmetric(res) and not is_true(res.get("enableKeyRotation")):
        yield "automatic key rotation is off."


def _deletion_window(res: Res) -> Iterator[str]:
    days = as_int(res.get("deletionWindowInDays"))
    if res.get("deletionWindowInDays") is UNKNOWN or days is None:
        return  # AWS defaults to 30 days
    if days < MINIMUM_DELETION_WINDOW:
        yield f"deletionWindowInDays is {days}; a mistaken deletion leaves little time to cancel."


RULES = [
    resource_rule(
        name="aws-kms-key-rotation",
        description="Symmetric KMS keys rotate automatically.",
        area="kms",
        types=KEY,
        check=_rotation,
        fix="set enableKeyRotation=True.",
    ),
    resource_rule(
        name="aws-kms-deletion-window",
        description="KMS keys keep a deletion window of at least 14 days.",
        area="kms",
        types=KEY,
        check=_deletion_window,
        fix="set deletionWindowInDays to 30 (or leave it unset).",
        level=ADVISORY,
    ),
]
