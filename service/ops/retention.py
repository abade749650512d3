"""Grandfather-father-son retention: keep the newest backup of each of the last N days, ISO
weeks and months (per backup type), and always the newest good backup of each type.

The rules are the restic/borg ones: "the last N days" means the N most recent calendar days
(UTC) that *have* a backup, so a week without backups does not eat into the daily quota. A
backup may satisfy several rules at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.ops.catalog import Catalog
from service.ops.manifest import MANIFEST_NAME
from service.ops.storage import Storage


@dataclass(frozen=True, kw_only=True)
class Policy:
    keep_daily: int = 30
    keep_weekly: int = 12
    keep_monthly: int = 12


@dataclass(frozen=True)
class Decision:
    keep: dict[str, list[str]]  # backup id -> reasons
    delete: list[str]


def _newest_per_bucket(
    items: Sequence[tuple[str, datetime]], bucket: Callable[[datetime], object], count: int
) -> list[str]:
    """The newest item of each of the `count` most recent buckets (items sorted newest first)."""
    kept: list[str] = []
    seen: set[object] = set()
    for ident, when in items:
        if len(seen) >= count:
            break
        key = bucket(when)
        if key not in seen:
            seen.add(key)
            kept.append(ident)
    return kept


def decide(backups: Sequence[tuple[str, str, datetime]], policy: Policy) -> Decision:
    """`backups` are (id, type, created_at UTC) of *good* backups; returns what to keep/delete."""
    keep: dict[str, list[str]] = {}
    by_type: dict[str, list[tuple[str, datetime]]] = {}
    for ident, kind, when in backups:
        by_type.setdefault(kind, []).append((ident, when))
    for kind, items in by_type.items():
        items.sort(key=lambda item: (item[1], item[0]), reverse=True)
        rules: list[tuple[str, Callable[[datetime], object], int]] = [
            ("daily", lambda w: w.date(), policy.keep_daily),
            ("weekly", lambda w: w.isocalendar()[:2], policy.keep_weekly),
            ("monthly", lambda w: (w.year, w.month), policy.keep_monthly),
        ]
        for reason, bucket, count in rules:
            for ident in _newest_per_bucket(items, bucket, count):
                keep.setdefault(ident, []).append(reason)
        # Whatever the flags say, the newest good backup of each type survives.
        keep.setdefault(items[0][0], []).append(f"newest {kind}")
    delete = [ident for ident, _, _ in backups if ident not in keep]
    return Decision(keep, delete)


def stale_orphans(
    orphans: Sequence[tuple[str, datetime]], now: datetime, grace: timedelta = timedelta(days=1)
) -> list[str]:
    """Folders without a manifest that stopped changing more than `grace` ago: dead backups."""
    return [ident for ident, newest in orphans if now - newest > grace]


@dataclass(frozen=True)
class PrunePlan:
    decision: Decision
    orphans: list[str]
    damaged: list[str]


def plan_prune(catalog: Catalog, policy: Policy, now: datetime) -> PrunePlan:
    # Archived backups take part like any other: their manifest exists, so they completed, and
    # S3 deletes archived objects without restoring them first.
    good = [(b.id, b.type, b.created_at) for b in catalog.backups if b.good]
    return PrunePlan(
        decision=decide(good, policy),
        orphans=stale_orphans([(o.id, o.newest) for o in catalog.orphans], now),
        # Damaged backups are reported, not deleted: they may be evidence of tampering.
        damaged=[b.id for b in catalog.backups if not b.good],
    )


def apply_prune(storage: Storage, catalog: Catalog, plan: PrunePlan) -> int:
    """Delete the manifest first, so an interrupted prune leaves orphans, never half backups."""
    doomed = set(plan.decision.delete) | set(plan.orphans)
    deleted = 0
    for backup in catalog.backups:
        if backup.id in doomed:
            keys = [o.key for o in backup.objects]
            manifest = f"{backup.id}/{MANIFEST_NAME}"
            storage.delete([manifest])
            storage.delete([k for k in keys if k != manifest])
            deleted += 1
    for orphan in catalog.orphans:
        if orphan.id in doomed:
            storage.delete([o.key for o in orphan.objects])
            deleted += 1
    return deleted
