"""Archived backups: ask S3 to restore their objects, say when they will be readable, or wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from service.clock import SYSTEM_CLOCK, Clock
from service.ops.catalog import Backup, load_catalog
from service.ops.manifest import ManifestError
from service.ops.storage import Storage, StorageError

Say = Callable[[str], None]

TIERS = ("Standard", "Bulk", "Expedited")

# The longest a restore takes, per storage class and retrieval tier (AWS S3 user guide,
# "Understanding archive retrieval options"). Deep Archive has no Expedited tier.
RESTORE_TIME: dict[tuple[str, str], timedelta] = {
    ("GLACIER", "Expedited"): timedelta(minutes=5),
    ("GLACIER", "Standard"): timedelta(hours=5),
    ("GLACIER", "Bulk"): timedelta(hours=12),
    ("DEEP_ARCHIVE", "Standard"): timedelta(hours=12),
    ("DEEP_ARCHIVE", "Bulk"): timedelta(hours=48),
}


class ThawError(RuntimeError):
    """The restore of archived objects could not be requested."""


class RestorePending(RuntimeError):
    """The backup's objects are being restored by S3; nothing was restored yet."""


@dataclass(frozen=True, kw_only=True)
class ThawOptions:
    tier: str = "Standard"
    days: int = 7  # how long S3 keeps the restored copies
    wait: bool = False
    poll_seconds: float = 300.0


def ensure_readable(
    storage: Storage,
    backup: Backup,
    options: ThawOptions,
    *,
    say: Say,
    clock: Clock = SYSTEM_CLOCK,
    sleep: Callable[[float], None] = time.sleep,
) -> Backup:
    """`backup` when every object is readable; otherwise request the restore of the archived
    ones, then wait for them (`options.wait`) or raise RestorePending saying when to return."""
    if backup.restorable_now:
        return backup
    classes = {o.key: o.storage_class for o in backup.objects}
    pending = [k for k in backup.unreadable if k not in backup.restoring]
    longest = max(_restore_time(classes[k], options.tier) for k in backup.unreadable)
    try:
        for key in pending:
            storage.request_restore(key, days=options.days, tier=options.tier)
    except StorageError as exc:
        raise ThawError(f"cannot restore {backup.id} from its archive: {exc}") from None
    kinds = "/".join(sorted({classes[k] for k in backup.unreadable}))
    started = (
        f"requested the S3 restore of {len(pending)} object(s)"
        if pending
        else "the S3 restore is already under way"
    )
    say(
        f"{backup.id} is archived ({len(backup.unreadable)} object(s) in {kinds}): {started} "
        f"({options.tier} tier, copies kept {options.days} days); it takes up to "
        f"{_hours(longest)}"
    )
    ready_by = clock.now() + longest
    if not options.wait:
        raise RestorePending(
            f"{backup.id} is not restorable yet: run the same command again after "
            f"{ready_by:%Y-%m-%d %H:%M} UTC, or add --wait"
        )
    while True:
        try:
            current = load_catalog(storage).find(backup.id)
        except (ManifestError, StorageError) as exc:
            raise ThawError(f"while waiting for {backup.id}: {exc}") from None
        if current.restorable_now:
            say(f"{backup.id}: restored copies are readable")
            return current
        say(
            f"{backup.id}: {len(current.unreadable)} object(s) still being restored "
            f"(expected by {ready_by:%Y-%m-%d %H:%M} UTC); checking again in "
            f"{options.poll_seconds:.0f} s"
        )
        sleep(options.poll_seconds)


def _restore_time(storage_class: str, tier: str) -> timedelta:
    try:
        return RESTORE_TIME[(storage_class, tier)]
    except KeyError:
        tiers = ", ".join(t for c, t in RESTORE_TIME if c == storage_class) or "none"
        raise ThawError(
            f"{storage_class} objects cannot be restored with the {tier} tier (tiers: {tiers})"
        ) from None


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} minutes" if minutes < 60 else f"{minutes // 60} hours"


def describe(backup: Backup) -> str:
    """`yes`, `restoring` or `no` for `utp backups list`."""
    if backup.restorable_now:
        return "yes"
    return "restoring" if backup.restoring else "no"
