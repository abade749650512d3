"""`utp restore`: download, verify every checksum first, then restore (or verify in scratch)."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from service.ops import files as files_ops
from service.ops import pg, redisops
from service.ops.catalog import Backup, load_catalog
from service.ops.manifest import Artifact, ManifestError, sha256_file
from service.ops.storage import Storage, StorageError
from service.ops.thaw import ThawError, ThawOptions, ensure_readable
from service.settings import Settings

Say = Callable[[str], None]


class RestoreError(RuntimeError):
    """The backup is unusable or the target refused; nothing was overwritten."""


@dataclass
class RestoreReport:
    backup_id: str
    verify_only: bool
    # Where each component went (database URL without password, Redis URL, directory).
    targets: dict[str, str] = field(default_factory=dict)
    # Integrity checks: (what, expected, actual).
    checks: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(expected == actual for _, expected, actual in self.checks)

    @property
    def mismatches(self) -> list[tuple[str, str, str]]:
        return [c for c in self.checks if c[1] != c[2]]


def run_restore(
    settings: Settings,
    storage: Storage,
    ref: str,
    *,
    kinds: Sequence[str] | None = None,
    database_url: str | None = None,
    redis_url: str | None = None,
    force: bool = False,
    verify_only: bool = False,
    thaw: ThawOptions | None = None,
    say: Say = print,
) -> RestoreReport:
    """Raises RestorePending (nothing restored) while an archived backup is being thawed."""
    try:
        backup = load_catalog(storage).find(ref)
        _refuse_incomplete(backup)  # before asking S3 to thaw a backup that cannot be used
        backup = ensure_readable(storage, backup, thaw or ThawOptions(), say=say)
    except (ManifestError, StorageError, ThawError) as exc:
        raise RestoreError(str(exc)) from None
    _refuse_incomplete(backup)
    if backup.manifest is None:  # ensure_readable returns only readable backups
        raise RestoreError(f"{backup.id}: its manifest cannot be read")
    manifest = backup.manifest
    wanted = list(kinds) if kinds else [a.kind for a in manifest.artifacts]
    chosen: list[Artifact] = []
    for kind in wanted:
        artifact = manifest.artifact(kind)
        if artifact is None:
            held = ", ".join(a.kind for a in manifest.artifacts)
            raise RestoreError(f"backup {backup.id} has no {kind} artifact (it holds: {held})")
        chosen.append(artifact)

    report = RestoreReport(backup.id, verify_only)
    with tempfile.TemporaryDirectory(prefix="utp-restore-") as tmp:
        local = _download_and_verify(storage, backup, chosen, Path(tmp), say)
        for artifact in chosen:
            path = local[artifact.kind]
            if artifact.kind == "database":
                _database(settings, artifact, path, database_url, force, verify_only, report, say)
            elif artifact.kind == "redis":
                _redis(settings, artifact, path, redis_url, force, verify_only, report, say)
            else:
                _files(settings, backup, artifact, path, force, verify_only, report, say)
    return report


def _refuse_incomplete(backup: Backup) -> None:
    if backup.problems:
        raise RestoreError(
            f"refusing to restore {backup.id}: the backup is incomplete ("
            + "; ".join(backup.problems)
            + ")"
        )


def _download_and_verify(
    storage: Storage, backup: Backup, chosen: list[Artifact], workdir: Path, say: Say
) -> dict[str, Path]:
    """Every artifact is checked before anything is restored: all or nothing."""
    local: dict[str, Path] = {}
    for artifact in chosen:
        path = workdir / artifact.filename
        try:
            storage.get_file(f"{backup.id}/{artifact.filename}", path)
        except StorageError as exc:
            raise RestoreError(f"refusing to restore {backup.id}: {exc}") from None
        size = path.stat().st_size
        if size != artifact.size:
            raise RestoreError(
                f"refusing to restore {backup.id}: {artifact.filename} is {size} bytes but the "
                f"manifest says {artifact.size}: the backup is incomplete or was altered"
            )
        digest = sha256_file(path)
        if digest != artifact.sha256:
            raise RestoreError(
                f"refusing to restore {backup.id}: {artifact.filename} fails its checksum "
                f"(manifest sha256 {artifact.sha256}, downloaded {digest}): the backup is "
                "corrupt or was tampered with. Pick another one from `utp backups list`."
            )
        say(f"  {artifact.filename}: sha256 verified ({size} bytes)")
        local[artifact.kind] = path
    return local


def _stamp() -> str:
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(2)}"


# -- PostgreSQL -------------------------------------------------------------------------------


def _database(
    settings: Settings,
    artifact: Artifact,
    path: Path,
    database_url: str | None,
    force: bool,
    verify_only: bool,
    report: RestoreReport,
    say: Say,
) -> None:
    base_url = database_url or settings.database_url
    try:
        base = pg.PgTarget.from_url(base_url)
    except pg.PgError as exc:
        raise RestoreError(f"{exc} (set UTP_DATABASE_URL or pass --database-url)") from None
    expected: dict[str, int] = {
        k: int(v) for k, v in dict(artifact.details.get("row_counts", {})).items()
    }
    try:
        if verify_only:
            scratch = base.with_database(f"utp_verify_{_stamp()}")
            asyncio.run(_create_database(scratch))
            try:
                say(f"  database: restoring into scratch database {scratch.database} ...")
                _pg_restore(path, scratch, clean=False)
                actual = asyncio.run(_counts(scratch))
            finally:
                asyncio.run(_drop_database(scratch))
            report.targets["database"] = f"{scratch.safe} (dropped)"
        else:
            if database_url is None:
                target = base.with_database(f"utp_restore_{_stamp()}")
                asyncio.run(_create_database(target))
                clean = False
            else:
                target = base
                tables = asyncio.run(_prepare_target(target))
                if tables and not force:
                    raise RestoreError(
                        f"{target.safe} already has {tables} table(s); restoring over it "
                        "replaces them: add --force to overwrite (or omit --database-url to "
                        "restore into a new database)"
                    )
                clean = tables > 0
            say(f"  database: pg_restore into {target.safe} ...")
            _pg_restore(path, target, clean=clean)
            actual = asyncio.run(_counts(target))
            report.targets["database"] = target.safe
    except pg.PgError as exc:
        raise RestoreError(str(exc)) from None
    for table in sorted(set(expected) | set(actual)):
        report.checks.append(
            (
                f"rows in {table}",
                str(expected.get(table, "absent")),
                str(actual.get(table, "absent")),
            )
        )


def _pg_restore(path: Path, target: pg.PgTarget, *, clean: bool) -> None:
    args = [
        pg.tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--no-password",
        "--dbname",
        target.database,
    ]
    if clean:
        args += ["--clean", "--if-exists"]
    pg.run_tool([*args, str(path)], target, what=f"pg_restore into {target.safe}")


async def _create_database(target: pg.PgTarget) -> None:
    conn = await target.connect("postgres")
    try:
        await conn.execute(f"CREATE DATABASE {pg.quote_ident(target.database)}")
    except Exception as exc:
        raise pg.PgError(f"cannot create database {target.database}: {exc}") from None
    finally:
        await conn.close()


async def _drop_database(target: pg.PgTarget) -> None:
    conn = await target.connect("postgres")
    try:
        await conn.execute(
            f"DROP DATABASE IF EXISTS {pg.quote_ident(target.database)} WITH (FORCE)"
        )
    finally:
        await conn.close()


async def _prepare_target(target: pg.PgTarget) -> int:
    """User tables in the target database, creating it first if it does not exist."""
    admin = await target.connect("postgres")
    try:
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", target.database
        )
    finally:
        await admin.close()
    if not exists:
        await _create_database(target)
        return 0
    conn = await target.connect()
    try:
        return len(await conn.fetch(pg.USER_TABLES))
    finally:
        await conn.close()


async def _counts(target: pg.PgTarget) -> dict[str, int]:
    conn = await target.connect()
    try:
        return await pg.table_counts(conn)
    finally:
        await conn.close()


# -- Redis ------------------------------------------------------------------------------------


def _redis(
    settings: Settings,
    artifact: Artifact,
    path: Path,
    redis_url: str | None,
    force: bool,
    verify_only: bool,
    report: RestoreReport,
    say: Say,
) -> None:
    expected = {k: int(v) for k, v in dict(artifact.details.get("keys", {})).items()}
    try:
        if verify_only:
            counts: dict[str, int] = {}
            with redisops.open_entries(path, artifact.format) as entries:
                for entry in entries:
                    counts[str(entry[0])] = counts.get(str(entry[0]), 0) + 1
            report.targets["redis"] = "read back (not loaded)"
        else:
            url = redis_url or settings.cache.redis_url.get()
            if not url:
                raise RestoreError(
                    "no Redis to restore into: set UTP_REDIS_URL or pass --redis-url"
                )
            target = redisops.RedisTarget(url)
            present = redisops.target_key_count(target)
            if present and not force:
                raise RestoreError(
                    f"Redis at {target.safe} already holds {present} key(s); add --force to "
                    "overwrite keys of the same name"
                )
            say(f"  redis: restoring into {target.safe} ...")
            with redisops.open_entries(path, artifact.format) as entries:
                counts = redisops.load_entries(target, entries, replace=force)
            report.targets["redis"] = target.safe
    except redisops.RedisOpsError as exc:
        raise RestoreError(str(exc)) from None
    for number in sorted(set(expected) | set(counts)):
        report.checks.append(
            (
                f"keys in redis db {number}",
                str(expected.get(number, 0)),
                str(counts.get(number, 0)),
            )
        )


# -- Files ------------------------------------------------------------------------------------


def _files(
    settings: Settings,
    backup: Backup,
    artifact: Artifact,
    path: Path,
    force: bool,
    verify_only: bool,
    report: RestoreReport,
    say: Say,
) -> None:
    expected = int(artifact.details.get("file_count", 0))
    try:
        if verify_only:
            count = len(files_ops.members(path))
            report.targets["files"] = "read back (not extracted)"
        else:
            data_dir = settings.server.data_dir
            target = data_dir if force else data_dir / "restored" / backup.name
            if target.exists() and any(target.iterdir()) and not force:
                raise RestoreError(f"{target} is not empty; add --force to restore over it")
            say(f"  files: extracting into {target} ...")
            count = files_ops.extract(path, target)
            report.targets["files"] = str(target)
    except files_ops.FilesError as exc:
        raise RestoreError(str(exc)) from None
    report.checks.append(("files", str(expected), str(count)))
