"""Operator commands: `utp backup`, `utp backups list|prune`, `utp restore`, `utp health-check`."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import click

from service.settings import Settings, SettingsError

if TYPE_CHECKING:
    from service.ops.catalog import Backup

# `utp restore` of an archived backup: the S3 restore was requested, nothing restored yet
# (sysexits' EX_TEMPFAIL: try again later).
EXIT_RESTORE_PENDING = 75


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _say(message: str) -> None:
    click.echo(message, err=True)


def _storage(
    settings: Settings, bucket: str | None, prefix: str | None, local: bool = False
) -> Any:
    from service.ops.storage import StorageError, open_storage

    try:
        return open_storage(settings, bucket=bucket, prefix=prefix, local=local)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None


bucket_option = click.option(
    "--bucket", default=None, help="S3 bucket (default UTP_BACKUP_BUCKET; none: local directory)."
)
prefix_option = click.option(
    "--prefix", default=None, help="Key prefix inside the bucket (default UTP_BACKUP_PREFIX)."
)


@click.command("backup")
@click.option(
    "--type",
    "kind",
    type=click.Choice(["full", "database", "redis", "files"]),
    default="full",
    show_default=True,
    help="full = database + redis + files.",
)
@click.option("--name", default=None, help="Backup name (default <type>-<UTC timestamp>).")
@click.option(
    "--no-upload", is_flag=True, help="Keep the backup in UTP_BACKUP_LOCAL_DIR, do not upload."
)
@bucket_option
@prefix_option
def backup(
    kind: str, name: str | None, no_upload: bool, bucket: str | None, prefix: str | None
) -> None:
    """Back up PostgreSQL (pg_dump), Redis (RDB) and the data directory, manifest last."""
    from service.ops.backup import BackupError, run_backup
    from service.ops.manifest import BackupType, ManifestError
    from service.ops.storage import StorageError

    settings = _settings()
    storage = _storage(settings, bucket, prefix, local=no_upload)
    try:
        outcome = run_backup(settings, storage, kind=cast(BackupType, kind), name=name, say=_say)
    except (BackupError, ManifestError, StorageError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(outcome.manifest.id)


@click.group("backups")
def backups() -> None:
    """List and prune backups."""


@backups.command("list")
@bucket_option
@prefix_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document with every backup.")
def backups_list(bucket: str | None, prefix: str | None, as_json: bool) -> None:
    """Complete backups (those whose manifest was written), oldest first."""
    from service.ops.catalog import load_catalog
    from service.ops.storage import StorageError
    from service.ops.thaw import describe

    settings = _settings()
    storage = _storage(settings, bucket, prefix)
    try:
        catalog = load_catalog(storage)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        rows = [_row(b) for b in catalog.backups]
        click.echo(json.dumps({"location": storage.location, "backups": rows}, indent=2))
        return
    if not catalog.backups:
        click.echo(f"no backups in {storage.location}")
    else:
        click.echo(
            f"{'ID':<60} {'COMPLETED (UTC)':<20} {'SIZE':>10}  {'CLASS':<13} "
            f"{'RESTORABLE':<10}  STATUS"
        )
        for b in catalog.backups:
            click.echo(
                f"{b.id:<60} {b.completed_at:%Y-%m-%d %H:%M:%S} {_human(b.size):>10}  "
                f"{b.storage_class:<13} {describe(b):<10}  {_status(b)}"
            )
    if catalog.orphans:
        _say(f"{len(catalog.orphans)} folder(s) without a manifest (unfinished) are not listed")


def _status(b: Backup) -> str:
    if b.problems:
        return "DAMAGED: " + "; ".join(b.problems)
    # An archived manifest cannot be read, so the sizes are checked once it is restored.
    return "ok" if b.manifest else "archived (checked after restore)"


def _row(b: Backup) -> dict[str, Any]:
    """A backup in `list --json`; fields only the manifest knows are null while it is archived."""
    from service.ops.thaw import describe

    m = b.manifest
    return {
        "id": b.id,
        "type": b.type,
        "name": b.name,
        "started_at": m.started_at.isoformat() if m else None,
        "completed_at": b.completed_at.isoformat(),
        "size": b.size,
        "artifacts": [a.kind for a in m.artifacts] if m else None,
        "storage_class": b.storage_class,
        "restorable_now": b.restorable_now,
        "restore": describe(b),
        "status": ("damaged" if b.problems else "ok") if m else "archived",
        "problems": list(b.problems),
    }


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"  # pragma: no cover


@backups.command("prune")
@click.option("--keep-daily", type=click.IntRange(min=0), default=30, show_default=True)
@click.option("--keep-weekly", type=click.IntRange(min=0), default=12, show_default=True)
@click.option("--keep-monthly", type=click.IntRange(min=0), default=12, show_default=True)
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@bucket_option
@prefix_option
def backups_prune(
    keep_daily: int,
    keep_weekly: int,
    keep_monthly: int,
    dry_run: bool,
    bucket: str | None,
    prefix: str | None,
) -> None:
    """Apply the retention scheme per backup type; the newest good backup always stays."""
    from service.ops.catalog import load_catalog
    from service.ops.retention import Policy, apply_prune, plan_prune
    from service.ops.storage import StorageError

    settings = _settings()
    storage = _storage(settings, bucket, prefix)
    try:
        catalog = load_catalog(storage)
        plan = plan_prune(
            catalog,
            Policy(keep_daily=keep_daily, keep_weekly=keep_weekly, keep_monthly=keep_monthly),
            datetime.now(UTC),
        )
        for ident in sorted(plan.decision.keep):
            click.echo(f"keep    {ident}  ({', '.join(plan.decision.keep[ident])})")
        for ident in plan.decision.delete:
            click.echo(f"delete  {ident}")
        for ident in plan.orphans:
            click.echo(f"delete  {ident}  (unfinished, no manifest)")
        for ident in plan.damaged:
            _say(f"warning: {ident} is damaged and was left in place; inspect it")
        if dry_run:
            click.echo("dry run: nothing deleted")
            return
        deleted = apply_prune(storage, catalog, plan)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"deleted {deleted}, kept {len(plan.decision.keep)}")


@click.command("restore")
@click.argument("backup_id")
@click.option(
    "--type",
    "kinds",
    type=click.Choice(["database", "redis", "files"]),
    multiple=True,
    help="Restore only these components (repeatable; default: all in the backup).",
)
@click.option(
    "--database-url",
    default=None,
    help="Restore into this database (default: a new database next to UTP_DATABASE_URL).",
)
@click.option("--redis-url", default=None, help="Restore Redis here (default UTP_REDIS_URL).")
@click.option("--force", is_flag=True, help="Allow overwriting a non-empty target.")
@click.option(
    "--verify-only",
    is_flag=True,
    help="Restore into a scratch database, compare row/key/file counts, drop it.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="For an archived backup: wait until S3 has restored it, then restore.",
)
@click.option(
    "--tier",
    type=click.Choice(["Standard", "Bulk", "Expedited"]),
    default="Standard",
    show_default=True,
    help="S3 retrieval tier for an archived backup (Expedited: GLACIER only).",
)
@click.option(
    "--restore-days",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="How long S3 keeps the restored copies of an archived backup.",
)
@bucket_option
@prefix_option
def restore(
    backup_id: str,
    kinds: tuple[str, ...],
    database_url: str | None,
    redis_url: str | None,
    force: bool,
    verify_only: bool,
    wait: bool,
    tier: str,
    restore_days: int,
    bucket: str | None,
    prefix: str | None,
) -> None:
    """Restore BACKUP_ID (an id from `utp backups list`, a unique name, or `latest`).

    An archived backup (GLACIER, DEEP_ARCHIVE) is first restored by S3: the command requests
    that, says when to come back and exits 75, or with --wait waits for it and restores.
    """
    from service.ops.restore import RestoreError, run_restore
    from service.ops.thaw import RestorePending, ThawOptions

    settings = _settings()
    storage = _storage(settings, bucket, prefix)
    try:
        report = run_restore(
            settings,
            storage,
            backup_id,
            kinds=list(kinds) or None,
            database_url=database_url,
            redis_url=redis_url,
            force=force,
            verify_only=verify_only,
            thaw=ThawOptions(tier=tier, days=restore_days, wait=wait),
            say=_say,
        )
    except RestoreError as exc:
        raise click.ClickException(str(exc)) from None
    except RestorePending as exc:
        _say(str(exc))
        sys.exit(EXIT_RESTORE_PENDING)
    for component, target in report.targets.items():
        click.echo(f"{component}: {target}")
    for what, expected, actual in report.checks:
        mark = "ok" if expected == actual else "MISMATCH"
        click.echo(f"  {mark:<8} {what}: backup {expected}, restored {actual}")
    if not report.ok:
        raise click.ClickException(
            f"{len(report.mismatches)} integrity check(s) failed for {report.backup_id}"
        )
    verb = "verified" if verify_only else "restored"
    click.echo(f"{report.backup_id} {verb}: {len(report.checks)} integrity checks passed")


@click.command("health-check")
@click.option("--url", default=None, help="Service base URL (default UTP_HEALTH_CHECK_URL).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "prometheus"]), default="text")
@click.option("--verbose", is_flag=True, help="Every component with details.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True)
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--continuous", is_flag=True, help="Check again every --interval seconds.")
@click.option("--interval", type=click.FloatRange(min=1.0), default=30.0, show_default=True)
@click.option(
    "--expect-release",
    default=None,
    metavar="TAG",
    help="Degraded unless the service reports this release (its image tag).",
)
def health_check(
    url: str | None,
    fmt: str,
    verbose: bool,
    timeout: float,
    retries: int,
    continuous: bool,
    interval: float,
    expect_release: str | None,
) -> None:
    """Exit 0 healthy, 1 degraded, 2 down."""
    settings = _settings()
    code = 0
    try:
        while True:
            code = check_once(
                settings, url, fmt, verbose, timeout, retries, expected_release=expect_release
            )
            if not continuous:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    sys.exit(code)


def check_once(
    settings: Settings,
    url: str | None,
    fmt: str,
    verbose: bool,
    timeout: float,
    retries: int,
    *,
    expected_release: str | None = None,
) -> int:
    from ops_common.healthcheck import (
        CheckOptions,
        render_json,
        render_prometheus,
        render_text,
        run_check,
    )
    from service.ops.healthcheck import newest_backup_time
    from service.ops.storage import open_storage

    ops = settings.ops
    newest = None
    if ops.backup_bucket:

        def newest() -> datetime | None:
            return newest_backup_time(open_storage(settings))

    report = run_check(
        url or ops.health_check_url,
        CheckOptions(
            timeout=timeout,
            retries=retries,
            api_key=ops.health_check_api_key.get(),
            newest_backup=newest,
            max_backup_age_seconds=ops.backup_max_age_seconds,
            expected_release=expected_release,
        ),
    )
    if fmt == "json":
        click.echo(json.dumps(render_json(report), indent=None if not verbose else 2))
    elif fmt == "prometheus":
        click.echo(render_prometheus(report), nl=False)
    else:
        click.echo(render_text(report, verbose=verbose))
    sys.stdout.flush()
    return report.exit_code


COMMANDS: list[click.Command] = [backup, backups, restore, health_check]
