"""`utp backup`: dump, compress, checksum, upload, and write the manifest last."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service import __version__
from service.ops import files as files_ops
from service.ops import pg, redisops
from service.ops.manifest import (
    KINDS_OF,
    MANIFEST_NAME,
    Artifact,
    BackupType,
    Manifest,
    backup_id,
    check_name,
    sha256_file,
)
from service.ops.metrics import record_backup_success
from service.ops.storage import Storage, local_dir
from service.settings import Settings

Say = Callable[[str], None]
MIB = 1024 * 1024


class BackupError(RuntimeError):
    """A backup could not be completed; nothing partial is ever listed as a backup."""


@dataclass(frozen=True)
class BackupOutcome:
    manifest: Manifest
    location: str
    seconds: float


class UploadProgress:
    """Prints an upload's progress in 25 % steps (long uploads only)."""

    def __init__(self, say: Say, label: str, total: int) -> None:
        self.say, self.label, self.total = say, label, total
        self.done = 0
        self.next_mark = 25

    def __call__(self, chunk: int) -> None:
        self.done += chunk
        if self.total < 8 * MIB:
            return
        percent = self.done * 100 // max(self.total, 1)
        while percent >= self.next_mark and self.next_mark <= 100:
            self.say(
                f"  upload {self.label}: {self.next_mark}% "
                f"({self.done / MIB:.1f} of {self.total / MIB:.1f} MiB)"
            )
            self.next_mark += 25


def run_backup(
    settings: Settings,
    storage: Storage,
    *,
    kind: BackupType,
    name: str | None = None,
    say: Say = print,
    now: datetime | None = None,
) -> BackupOutcome:
    started = now or datetime.now(UTC)
    clock = time.monotonic()
    name = check_name(name or f"{kind}-{started:%Y%m%dT%H%M%SZ}")
    ident = backup_id(kind, name, started)
    existing = [o.key for o in storage.list(ident + "/")]
    if f"{ident}/{MANIFEST_NAME}" in existing:
        raise BackupError(f"backup {ident} already exists; choose another --name")
    if existing:
        raise BackupError(
            f"{ident} holds files of an unfinished backup; choose another --name "
            "(`utp backups prune` removes abandoned ones after a day)"
        )
    say(f"backup {ident} -> {storage.location}")

    artifacts: list[Artifact] = []
    skipped: dict[str, str] = {}
    sources: dict[str, str] = {"service": __version__}
    with tempfile.TemporaryDirectory(prefix="utp-backup-") as tmp:
        workdir = Path(tmp)
        for component in KINDS_OF[kind]:
            step = time.monotonic()
            produced = _produce(settings, component, workdir, say, sources, skipped, kind)
            if produced is None:
                continue
            path, fmt, details = produced
            artifact = Artifact(
                kind=component,  # type: ignore[arg-type]
                filename=path.name,
                size=path.stat().st_size,
                sha256=sha256_file(path),
                format=fmt,
                details=details,
            )
            storage.put_file(
                f"{ident}/{path.name}", path, UploadProgress(say, path.name, artifact.size)
            )
            path.unlink()
            artifacts.append(artifact)
            say(
                f"  {component}: {path.name} {artifact.size / MIB:.2f} MiB "
                f"sha256 {artifact.sha256[:12]}… ({time.monotonic() - step:.1f}s)"
            )
    if not artifacts:
        raise BackupError(f"nothing to back up for --type {kind}: " + "; ".join(skipped.values()))
    manifest = Manifest(
        id=ident,
        type=kind,
        name=name,
        started_at=started,
        completed_at=datetime.now(UTC),
        sources=sources,
        artifacts=tuple(artifacts),
        skipped=skipped,
    )
    # Last: a folder without a manifest is never listed, restored or counted as a backup.
    storage.put_bytes(f"{ident}/{MANIFEST_NAME}", manifest.to_json().encode())
    seconds = time.monotonic() - clock
    say(
        f"backup {ident} complete: {len(artifacts)} artifact(s), "
        f"{manifest.size / MIB:.2f} MiB in {seconds:.1f}s"
    )
    if settings.ops.backup_textfile_dir:
        record_backup_success(Path(settings.ops.backup_textfile_dir), kind, manifest)
    return BackupOutcome(manifest, storage.location, seconds)


def _produce(
    settings: Settings,
    component: str,
    workdir: Path,
    say: Say,
    sources: dict[str, str],
    skipped: dict[str, str],
    kind: str,
) -> tuple[Path, str, dict[str, Any]] | None:
    def skip(reason: str) -> None:
        if kind == component:
            raise BackupError(reason)
        skipped[component] = reason
        say(f"  {component}: skipped ({reason})")

    if component == "database":
        if not settings.database_url.startswith("postgresql"):
            skip("UTP_DATABASE_URL is the embedded SQLite database; it is in the files backup")
            return None
        say("  database: pg_dump (custom format, compressed) ...")
        target = pg.PgTarget.from_url(settings.database_url)
        out = workdir / "database.dump"
        try:
            details = asyncio.run(dump_database(target, out, say))
        except pg.PgError as exc:
            raise BackupError(str(exc)) from None
        sources["postgresql"] = details.pop("server_version")
        sources["pg_dump"] = details.pop("pg_dump")
        sources["schema_revision"] = details.get("schema_revision", "")
        return out, "pg_dump-custom", details

    if component == "redis":
        if not settings.cache.redis_url:
            skip("UTP_REDIS_URL is not set (the in-process cache has nothing to keep)")
            return None
        say("  redis: snapshot ...")
        try:
            path, fmt, details = redisops.snapshot(
                redisops.RedisTarget(settings.cache.redis_url.get()), workdir, say
            )
        except redisops.RedisOpsError as exc:
            raise BackupError(str(exc)) from None
        sources["redis"] = details.pop("redis_version")
        return path, fmt, details

    data_dir = settings.server.data_dir
    if not data_dir.is_dir():
        skip(f"the data directory {data_dir} does not exist")
        return None
    say(f"  files: archiving {data_dir} ...")
    out = workdir / "files.tar.gz"
    try:
        details = files_ops.archive(data_dir, out, exclude=(local_dir(settings),))
    except files_ops.FilesError as exc:
        raise BackupError(str(exc)) from None
    return out, "tar+gzip", details


async def dump_database(target: pg.PgTarget, out: Path, say: Say) -> dict[str, Any]:
    """pg_dump inside an exported snapshot, so the row counts describe exactly the dump."""
    dump = pg.tool("pg_dump")
    conn = await target.connect()
    try:
        transaction = conn.transaction(isolation="repeatable_read", readonly=True)
        await transaction.start()
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        counts = await pg.table_counts(conn)
        revision = await pg.schema_revision(conn)
        server_version = str(await conn.fetchval("SHOW server_version"))
        process = await asyncio.create_subprocess_exec(
            dump, "--format=custom", "--compress=6", f"--snapshot={snapshot}", "--no-password",
            "--file", str(out), env=target.env(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        finished = asyncio.ensure_future(process.communicate())
        while True:
            done, _ = await asyncio.wait({finished}, timeout=5)
            if done:
                break
            size = await asyncio.to_thread(_size, out)
            say(f"  database: {size / MIB:.1f} MiB written ...")
        _, stderr = finished.result()
        await transaction.rollback()
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise pg.PgError(f"pg_dump of {target.safe} failed: {' '.join(tail)}")
    return {
        "row_counts": counts,
        "tables": len(counts),
        "schema_revision": revision,
        "server_version": server_version,
        "pg_dump": pg.tool_version(dump),
    }


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
