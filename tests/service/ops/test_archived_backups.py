"""Backups that aged into GLACIER and DEEP_ARCHIVE (moto's S3): list, restore, verify, prune."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from service.cli import main
from service.clock import FrozenClock
from service.ops.backup import run_backup
from service.ops.catalog import load_catalog
from service.ops.storage import open_storage
from service.ops.thaw import RestorePending, ThawOptions, ensure_readable
from service.settings import Settings
from tests.service.ops.conftest import env_of
from tests.service.ops.test_prune import _put_backup


def _archive(s3: Any, bucket: str, backup_id: str, storage_class: str) -> None:
    """What the bucket's lifecycle transition does to every object of the backup."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"utp/{backup_id}/")["Contents"]
    for item in listed:
        s3.copy_object(
            Bucket=bucket,
            Key=item["Key"],
            CopySource={"Bucket": bucket, "Key": item["Key"]},
            StorageClass=storage_class,
            MetadataDirective="COPY",
        )


def _files_backup(settings: Settings, name: str) -> str:
    (settings.server.data_dir / "glossary.csv").write_text("hello,hola\n")
    outcome = run_backup(
        settings, open_storage(settings), kind="files", name=name, say=lambda _: None
    )
    return outcome.manifest.id


def _listing(runner: CliRunner, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    result = runner.invoke(main, ["backups", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in json.loads(result.stdout)["backups"]}


def test_list_shows_storage_class_and_restorability(
    ops_settings: Settings, s3: Any, bucket: str
) -> None:
    storage = open_storage(ops_settings)
    now = datetime.now(UTC)
    deep = _put_backup(storage, "full", now - timedelta(days=400))
    glacier = _put_backup(storage, "full", now - timedelta(days=120))
    fresh = _put_backup(storage, "full", now - timedelta(days=1))
    _archive(s3, bucket, deep, "DEEP_ARCHIVE")
    _archive(s3, bucket, glacier, "GLACIER")

    env = env_of(ops_settings)
    runner = CliRunner()
    rows = _listing(runner, env)
    assert list(rows) == [deep, glacier, fresh]
    assert (rows[deep]["storage_class"], rows[deep]["restorable_now"]) == ("DEEP_ARCHIVE", False)
    assert (rows[glacier]["storage_class"], rows[glacier]["restorable_now"]) == ("GLACIER", False)
    assert (rows[fresh]["storage_class"], rows[fresh]["restorable_now"]) == ("STANDARD", True)
    # The archived manifest cannot be read: what it alone knows is unknown, not invented.
    assert rows[deep]["status"] == "archived"
    assert rows[deep]["artifacts"] is None
    assert rows[deep]["size"] == 16
    assert rows[fresh]["status"] == "ok"

    text = runner.invoke(main, ["backups", "list"], env=env)
    assert text.exit_code == 0, text.output
    line = next(x for x in text.stdout.splitlines() if x.startswith(deep))
    assert re.search(r"DEEP_ARCHIVE\s+no\s+archived", line), line


def test_restore_of_archived_backup_starts_s3_restore_and_says_when(
    ops_settings: Settings, s3: Any, bucket: str
) -> None:
    old = _files_backup(ops_settings, "old")
    newer = _files_backup(ops_settings, "newer")
    _archive(s3, bucket, old, "DEEP_ARCHIVE")
    env = env_of(ops_settings)
    runner = CliRunner()

    # A newer backup restores whatever sits in the archive tiers.
    verified = runner.invoke(main, ["restore", newer, "--verify-only"], env=env)
    assert verified.exit_code == 0, verified.output
    assert f"{newer} verified" in verified.stdout

    # Deep Archive has no Expedited tier: refused before anything is requested.
    expedited = runner.invoke(main, ["restore", old, "--tier", "Expedited"], env=env)
    assert expedited.exit_code == 1
    assert "DEEP_ARCHIVE objects cannot be restored with the Expedited tier" in expedited.output
    head = s3.head_object(Bucket=bucket, Key=f"utp/{old}/manifest.json")
    assert "Restore" not in head

    before = datetime.now(UTC)
    pending = runner.invoke(main, ["restore", old, "--verify-only"], env=env)
    assert pending.exit_code == 75, pending.output
    assert "2 object(s) in DEEP_ARCHIVE" in pending.stderr
    assert "up to 12 hours" in pending.stderr
    when = re.search(r"again after (\d{4}-\d\d-\d\d \d\d:\d\d) UTC, or add --wait", pending.stderr)
    assert when, pending.stderr
    back = datetime.strptime(when[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert timedelta(hours=11, minutes=58) < back - before <= timedelta(hours=12, minutes=1)
    for key in ("manifest.json", "files.tar.gz"):
        head = s3.head_object(Bucket=bucket, Key=f"utp/{old}/{key}")
        assert "ongoing-request" in head["Restore"], head

    # Once S3 has the copies (moto restores at once), the same command restores.
    assert _listing(runner, env)[old]["restorable_now"] is True
    again = runner.invoke(main, ["restore", old, "--verify-only"], env=env)
    assert again.exit_code == 0, again.output
    assert f"{old} verified" in again.stdout


def test_restore_wait_thaws_then_restores(ops_settings: Settings, s3: Any, bucket: str) -> None:
    ident = _files_backup(ops_settings, "aged")
    _archive(s3, bucket, ident, "GLACIER")
    result = CliRunner().invoke(
        main, ["restore", ident, "--wait", "--tier", "Bulk"], env=env_of(ops_settings)
    )
    assert result.exit_code == 0, result.output
    assert "GLACIER" in result.stderr and "Bulk tier" in result.stderr
    assert "restored copies are readable" in result.stderr
    restored = ops_settings.server.data_dir / "restored" / "aged" / "glossary.csv"
    assert restored.read_text() == "hello,hola\n"


def test_come_back_time_follows_class_and_tier(
    ops_settings: Settings, s3: Any, bucket: str
) -> None:
    ident = _files_backup(ops_settings, "glacier")
    _archive(s3, bucket, ident, "GLACIER")
    storage = open_storage(ops_settings)
    backup = load_catalog(storage).find(ident)
    clock = FrozenClock(datetime(2027, 2, 28, 22, 30, tzinfo=UTC))
    said: list[str] = []
    with pytest.raises(RestorePending, match="after 2027-03-01 03:30 UTC"):
        ensure_readable(storage, backup, ThawOptions(), say=said.append, clock=clock)
    assert "up to 5 hours" in said[0]


def test_prune_deletes_archived_backups_by_retention(
    ops_settings: Settings, s3: Any, bucket: str
) -> None:
    storage = open_storage(ops_settings)
    now = datetime.now(UTC)
    deep = _put_backup(storage, "full", now - timedelta(days=400))
    glacier = _put_backup(storage, "full", now - timedelta(days=100))
    kept_glacier = _put_backup(storage, "database", now - timedelta(days=95))
    fresh = _put_backup(storage, "full", now - timedelta(days=1))
    _archive(s3, bucket, deep, "DEEP_ARCHIVE")
    _archive(s3, bucket, glacier, "GLACIER")
    _archive(s3, bucket, kept_glacier, "GLACIER")

    env = env_of(ops_settings)
    runner = CliRunner()
    args = ["backups", "prune", "--keep-daily", "1", "--keep-weekly", "1", "--keep-monthly", "1"]
    result = runner.invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert f"delete  {deep}" in result.stdout
    assert f"delete  {glacier}" in result.stdout
    # The only database backup is the newest of its type, archived or not.
    assert f"keep    {kept_glacier}" in result.stdout
    assert "deleted 2, kept 2" in result.stdout
    assert list(_listing(runner, env)) == [kept_glacier, fresh]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert not [k for k in keys if deep in k or glacier in k]
