"""Retention over a synthetic 400-day history (local store), and on S3 (moto)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from click.testing import CliRunner

from service.cli import main
from service.ops.manifest import Artifact, Manifest, backup_id
from service.ops.storage import LocalStorage, Storage, open_storage
from service.settings import Settings
from tests.service.ops.conftest import env_of

END = date(2025, 3, 31)  # a Monday


def _put_backup(storage: Storage, kind: str, when: datetime, *, damaged: bool = False) -> str:
    name = f"{kind}-{when:%Y%m%dT%H%M%SZ}"
    ident = backup_id(kind, name, when)
    payload = b"x" * 16
    artifact = Artifact(
        kind="database",
        filename="database.dump",
        size=len(payload),
        sha256="0" * 64,
        format="pg_dump-custom",
    )
    if not damaged:
        storage.put_bytes(f"{ident}/database.dump", payload)
    manifest = Manifest(
        id=ident,
        type=kind,  # type: ignore[arg-type]
        name=name,
        started_at=when,
        completed_at=when + timedelta(minutes=1),
        sources={},
        artifacts=(artifact,),
    )
    storage.put_bytes(f"{ident}/manifest.json", manifest.to_json().encode())
    return ident


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _remaining(runner: CliRunner, env: dict[str, str]) -> list[str]:
    listing = runner.invoke(main, ["backups", "list", "--json"], env=env)
    assert listing.exit_code == 0, listing.output
    return [b["id"] for b in json.loads(listing.stdout)["backups"]]


def test_prune_keeps_exactly_daily_weekly_monthly_on_400_days(ops_settings: Settings) -> None:
    # The local store has the same layout and code path as S3 and keeps this test fast.
    ops_settings = replace(ops_settings, ops=replace(ops_settings.ops, backup_bucket=""))
    storage = open_storage(ops_settings)
    assert isinstance(storage, LocalStorage)
    ids: dict[date, str] = {}
    for offset in range(400):
        day = END - timedelta(days=offset)
        ids[day] = _put_backup(storage, "full", _at(day, 2))
        if offset % 7 == 0:
            # A second backup that day: only the later one is the day's representative.
            ids[day] = _put_backup(storage, "full", _at(day, 14))
    # Another type is retained on its own: its single backup survives.
    lone = _put_backup(storage, "database", _at(END - timedelta(days=300), 3))

    daily = {END - timedelta(days=n) for n in range(30)}  # 2025-03-02 .. 2025-03-31
    # Newest of each of the 12 newest ISO weeks: Monday 03-31 (week 14), then 11 Sundays.
    weekly = {END} | {date(2025, 3, 30) - timedelta(weeks=n) for n in range(11)}
    monthly = {
        date(2025, 3, 31), date(2025, 2, 28), date(2025, 1, 31), date(2024, 12, 31),
        date(2024, 11, 30), date(2024, 10, 31), date(2024, 9, 30), date(2024, 8, 31),
        date(2024, 7, 31), date(2024, 6, 30), date(2024, 5, 31), date(2024, 4, 30),
    }  # fmt: skip
    expected = sorted([ids[d] for d in daily | weekly | monthly] + [lone])

    env = env_of(ops_settings)
    runner = CliRunner()
    dry = runner.invoke(main, ["backups", "prune", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing deleted" in dry.stdout
    assert len(_remaining(runner, env)) == 400 + 58 + 1

    pruned = runner.invoke(
        main,
        ["backups", "prune", "--keep-daily", "30", "--keep-weekly", "12", "--keep-monthly", "12"],
        env=env,
    )
    assert pruned.exit_code == 0, pruned.output
    assert sorted(_remaining(runner, env)) == expected
    assert len(expected) == 30 + 6 + 11 + 1  # weekly and monthly overlap the daily window
    # Deleted backups leave nothing behind (no orphaned artifacts).
    keys = [o.key for o in storage.list()]
    assert len(keys) == 2 * len(expected)


def test_prune_never_deletes_the_newest_good_backup(ops_settings: Settings, s3: Any) -> None:
    storage = open_storage(ops_settings)
    older = _put_backup(storage, "full", _at(END - timedelta(days=3), 2))
    newest_good = _put_backup(storage, "full", _at(END - timedelta(days=1), 2))
    damaged = _put_backup(storage, "full", _at(END, 2), damaged=True)
    # An unfinished backup (no manifest) is not a backup: it cannot displace the newest good.
    storage.put_bytes(f"{backup_id('full', 'running', _at(END, 3))}/database.dump", b"partial")

    env = env_of(ops_settings)
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["backups", "prune", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert f"delete  {older}" in result.stdout
    assert f"keep    {newest_good}  (newest full)" in result.stdout
    assert f"{damaged} is damaged" in result.stderr
    remaining = _remaining(runner, env)
    assert remaining == [newest_good, damaged]
    # The in-progress folder is younger than a day: left alone.
    assert any("/running/" in o.key for o in storage.list())
