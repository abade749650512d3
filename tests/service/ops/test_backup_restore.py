"""Backups proven by restoring them: real PostgreSQL and Redis, S3 from moto's server."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis
from click.testing import CliRunner

from service.cli import main
from service.db.migrate import upgrade
from service.ops.backup import run_backup
from service.ops.manifest import Manifest
from service.ops.restore import RestoreError, run_restore
from service.ops.storage import S3Storage, open_storage
from service.settings import Settings
from tests.servers import PostgresServer
from tests.service.ops.conftest import KMS_KEY, env_of, with_services

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _seed(url: str) -> None:
    conn = await asyncpg.connect(_dsn(url))
    try:
        workspace = uuid.uuid4()
        await conn.execute(
            "INSERT INTO workspaces (id, name, created_at) VALUES ($1, 'acme', now())", workspace
        )
        await conn.executemany(
            "INSERT INTO translation_memory (cache_key, source_lang, target_lang, provider,"
            " model, translated_text, meta, created_at) VALUES ($1, 'en', 'es', 'apertium',"
            " 'eng-spa', $2, '{}', now())",
            [(f"{i:064x}", f"texto número {i} ✓") for i in range(250)],
        )
        # A table no model knows about: the backup must find tables in the catalog.
        await conn.execute(
            "CREATE TABLE later_feature (id serial PRIMARY KEY, payload jsonb, blob bytea)"
        )
        await conn.executemany(
            "INSERT INTO later_feature (payload, blob) VALUES ($1, $2)",
            [(json.dumps({"n": i}), bytes([i % 256]) * 3) for i in range(40)],
        )
    finally:
        await conn.close()


async def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        out: dict[str, list[tuple[Any, ...]]] = {}
        for row in tables:
            name = row["tablename"]
            records = await conn.fetch(f'SELECT * FROM "{name}"')  # noqa: S608 - catalog name
            out[name] = sorted(tuple(str(v) for v in r.values()) for r in records)
        return out
    finally:
        await conn.close()


def _db(url: str, db: int) -> str:
    return url.rsplit("/", 1)[0] + f"/{db}"


def _seed_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    # The server waits 5 s for more replicas before a diskless sync by default.
    client.config_set("repl-diskless-sync-delay", 0)
    client.set("plain", "value ✓")
    client.set("expiring", "soon", ex=3600)
    client.hset("hash", mapping={"a": "1", "b": "2"})
    client.rpush("list", *[f"item{i}" for i in range(100)])
    client.sadd("set", "x", "y", "z")
    client.zadd("zset", {"p": 1.5, "q": 2.5})
    other = redis.Redis.from_url(_db(url, 3))
    other.set("in-db-3", b"\x00\x01binary")
    client.close()
    other.close()


def _redis_state(url: str) -> dict[tuple[int, bytes], tuple[Any, bool]]:
    state: dict[tuple[int, bytes], tuple[Any, bool]] = {}
    for db in (0, 3):
        client = redis.Redis.from_url(_db(url, db))
        for key in client.scan_iter():
            kind = client.type(key)
            readers: dict[bytes, Any] = {
                b"string": client.get,
                b"hash": client.hgetall,
                b"list": lambda k, c=client: c.lrange(k, 0, -1),
                b"set": lambda k, c=client: sorted(c.smembers(k)),
                b"zset": lambda k, c=client: c.zrange(k, 0, -1, withscores=True),
            }
            value = readers[kind](key)
            state[(db, key)] = (value, client.ttl(key) > 0)
        client.close()
    return state


def _seed_files(data_dir: Path) -> None:
    (data_dir / "notes").mkdir()
    (data_dir / "notes" / "glossary.csv").write_text("en,es\nhello,hola\n")
    # Incompressible and over the 5 MiB threshold: the files artifact goes up in parts.
    (data_dir / "blob.bin").write_bytes(os.urandom(6 * 1024 * 1024))
    with sqlite3.connect(data_dir / "embedded.db") as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.executemany("INSERT INTO t VALUES (?)", [(f"row{i}",) for i in range(10)])


async def _drop(server: PostgresServer, name: str) -> None:
    conn = await asyncpg.connect(server.dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _databases(server: PostgresServer) -> set[str]:
    conn = await asyncpg.connect(server.dsn())
    try:
        return {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()


class Recording(S3Storage):
    """Real S3 storage that remembers the order objects were written in."""

    order: list[str]

    def put_file(self, key: str, path: Path, progress: Any = None) -> None:
        super().put_file(key, path, progress)
        self.order.append(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        super().put_bytes(key, data)
        self.order.append(key)


def _recording(settings: Settings) -> Recording:
    ops = settings.ops
    storage = Recording(
        bucket=ops.backup_bucket,
        prefix=ops.backup_prefix,
        kms_key_id=ops.backup_kms_key_id,
        endpoint_url=ops.backup_s3_endpoint_url,
        multipart_threshold=5 * 1024 * 1024,
        multipart_chunk=5 * 1024 * 1024,
    )
    storage.order = []
    return storage


async def test_full_backup_restores_rows_keys_and_files_exactly(
    ops_settings: Settings,
    postgres_url: str,
    postgres_server: PostgresServer,
    redis_url: str,
    s3: Any,
) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    await _seed(postgres_url)
    _seed_redis(redis_url)
    _seed_files(ops_settings.server.data_dir)
    settings = with_services(ops_settings, postgres_url, redis_url)
    rows_before = await _snapshot(postgres_url)
    keys_before = _redis_state(redis_url)
    storage = _recording(settings)

    outcome = await asyncio.to_thread(run_backup, settings, storage, kind="full", name="nightly")
    manifest = outcome.manifest

    day = manifest.started_at
    assert manifest.id == f"full/{day:%Y/%m/%d}/nightly"
    assert storage.order[-1] == f"{manifest.id}/manifest.json", "manifest must be written last"
    listed = s3.list_objects_v2(Bucket=settings.ops.backup_bucket, Prefix="utp/")["Contents"]
    keys = sorted(o["Key"] for o in listed)
    assert keys == sorted(
        f"utp/{manifest.id}/{n}"
        for n in ("database.dump", "redis.rdb.gz", "files.tar.gz", "manifest.json")
    )
    for key in keys:
        head = s3.head_object(Bucket=settings.ops.backup_bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"].endswith(KMS_KEY)
    files_head = s3.head_object(Bucket=settings.ops.backup_bucket, Key=keys[1])
    assert keys[1].endswith("files.tar.gz") and "-2" in files_head["ETag"], "multipart upload"

    database = manifest.artifact("database")
    assert database is not None
    assert database.details["row_counts"]["public.translation_memory"] == 250
    assert database.details["row_counts"]["public.later_feature"] == 40
    assert manifest.sources["schema_revision"]
    redis_artifact = manifest.artifact("redis")
    assert redis_artifact is not None and redis_artifact.details["keys"] == {"0": 6, "3": 1}
    textfile = Path(settings.ops.backup_textfile_dir) / "utp_backup.prom"
    assert 'utp_backup_last_success_timestamp_seconds{type="full"}' in textfile.read_text()

    # Lose everything, then restore.
    redis.Redis.from_url(redis_url).flushall()
    restored_db = f"restored_{uuid.uuid4().hex[:8]}"
    try:
        report = await asyncio.to_thread(
            run_restore,
            settings,
            open_storage(settings),
            manifest.id,
            database_url=postgres_server.url(restored_db),
        )
        assert report.ok, report.mismatches
        assert await _snapshot(postgres_server.url(restored_db)) == rows_before
    finally:
        await _drop(postgres_server, restored_db)
    assert _redis_state(redis_url) == keys_before
    restored_files = settings.server.data_dir / "restored" / "nightly"
    assert (restored_files / "notes" / "glossary.csv").read_text() == "en,es\nhello,hola\n"
    assert (restored_files / "blob.bin").read_bytes() == (
        settings.server.data_dir / "blob.bin"
    ).read_bytes()
    with sqlite3.connect(restored_files / "embedded.db") as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (10,)


async def test_flipped_byte_makes_restore_refuse_and_touch_nothing(
    ops_settings: Settings, postgres_url: str, postgres_server: PostgresServer, s3: Any
) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    await _seed(postgres_url)
    settings = with_services(ops_settings, postgres_url)
    storage = open_storage(settings)
    manifest = (await asyncio.to_thread(run_backup, settings, storage, kind="database")).manifest
    key = f"utp/{manifest.id}/database.dump"
    bucket = settings.ops.backup_bucket
    body = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x01
    s3.put_object(Bucket=bucket, Key=key, Body=bytes(body))

    target = f"never_{uuid.uuid4().hex[:8]}"
    with pytest.raises(RestoreError, match=r"fails its checksum .* corrupt or was tampered"):
        await asyncio.to_thread(
            run_restore, settings, storage, manifest.id, database_url=postgres_server.url(target)
        )
    assert target not in await _databases(postgres_server)

    result = CliRunner().invoke(
        main, ["restore", manifest.id, "--verify-only"], env=env_of(settings)
    )
    assert result.exit_code == 1
    assert "fails its checksum" in result.output


async def test_verify_only_restores_into_scratch_and_compares_counts(
    ops_settings: Settings, postgres_url: str, postgres_server: PostgresServer
) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    await _seed(postgres_url)
    settings = with_services(ops_settings, postgres_url)
    env = env_of(settings)
    runner = CliRunner()
    made = await asyncio.to_thread(
        runner.invoke, main, ["backup", "--type", "database", "--name", "pre-deploy"], env=env
    )
    assert made.exit_code == 0, made.output
    backup_id = made.stdout.strip().splitlines()[-1]
    assert backup_id.startswith("database/") and backup_id.endswith("/pre-deploy")

    before = await _databases(postgres_server)
    result = await asyncio.to_thread(
        runner.invoke, main, ["restore", "pre-deploy", "--verify-only"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "ok       rows in public.translation_memory: backup 250, restored 250" in result.stdout
    assert "verified" in result.stdout
    assert await _databases(postgres_server) == before, "the scratch database must be dropped"

    # The live database is not empty: overwriting it needs --force.
    refused = await asyncio.to_thread(
        runner.invoke, main, ["restore", backup_id, "--database-url", postgres_url], env=env
    )
    assert refused.exit_code == 1
    assert "--force" in refused.output
    forced = await asyncio.to_thread(
        runner.invoke,
        main,
        ["restore", backup_id, "--database-url", postgres_url, "--force"],
        env=env,
    )
    assert forced.exit_code == 0, forced.output


async def test_backup_without_manifest_is_not_listed_nor_restorable(
    ops_settings: Settings, postgres_url: str, s3: Any
) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    settings = with_services(ops_settings, postgres_url)
    storage = open_storage(settings)
    kept = (
        await asyncio.to_thread(run_backup, settings, storage, kind="database", name="a")
    ).manifest
    broken = (
        await asyncio.to_thread(run_backup, settings, storage, kind="database", name="b")
    ).manifest
    s3.delete_object(Bucket=settings.ops.backup_bucket, Key=f"utp/{broken.id}/manifest.json")

    env = env_of(settings)
    listing = CliRunner().invoke(main, ["backups", "list", "--json"], env=env)
    assert listing.exit_code == 0, listing.output
    ids = [b["id"] for b in json.loads(listing.stdout)["backups"]]
    assert ids == [kept.id]

    refused = CliRunner().invoke(main, ["restore", broken.id, "--verify-only"], env=env)
    assert refused.exit_code == 1
    assert "has no manifest" in refused.output


def test_manifest_round_trips_and_rejects_garbage() -> None:
    text = (
        '{"format_version": 1, "id": "x", "type": "full", "name": "n", "started_at": '
        '"2025-01-01T00:00:00+00:00", "completed_at": "2025-01-01T00:01:00+00:00", '
        '"sources": {}, "artifacts": [{"kind": "database", "filename": "../evil", '
        '"size": 1, "sha256": "' + "0" * 64 + '", "format": "x"}]}'
    )
    with pytest.raises(ValueError, match="bad artifact file name"):
        Manifest.from_json(text)
    with pytest.raises(ValueError, match="incomplete manifest"):
        Manifest.from_json('{"format_version": 1}')


async def test_redis_that_refuses_replication_is_dumped_key_by_key(
    ops_settings: Settings, redis_url: str, redis_server: Any
) -> None:
    """Like ElastiCache: SYNC/PSYNC are not allowed, so the backup falls back to DUMP."""
    _seed_redis(redis_url)
    keys_before = _redis_state(redis_url)
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(
        "backup", enabled=True, passwords=["+s3cret-pw"], keys=["*"],
        commands=["+@all", "-sync", "-psync"],
    )  # fmt: skip
    admin.close()
    user_url = f"redis://backup:s3cret-pw@127.0.0.1:{redis_server.port}/0"
    settings = with_services(ops_settings, "", user_url)
    lines: list[str] = []
    try:
        outcome = await asyncio.to_thread(
            run_backup, settings, open_storage(settings), kind="redis", say=lines.append
        )
        artifact = outcome.manifest.artifact("redis")
        assert artifact is not None and artifact.format == "redis-dump+gzip"
        assert artifact.details["keys"] == {"0": 6, "3": 1}
        assert any("refused a replication snapshot" in line for line in lines)
        assert not any("s3cret-pw" in line for line in lines), "the password must never show"

        redis.Redis.from_url(redis_url).flushall()
        report = await asyncio.to_thread(
            run_restore, settings, open_storage(settings), outcome.manifest.id
        )
        assert report.ok and report.targets["redis"].startswith("redis://127.0.0.1")
        assert _redis_state(redis_url) == keys_before
    finally:
        cleanup = redis.Redis.from_url(redis_url)
        cleanup.acl_deluser("backup")
        cleanup.close()
