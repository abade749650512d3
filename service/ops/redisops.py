"""Redis snapshots: an RDB over the replication protocol (`redis-cli --rdb`), or per-key DUMP.

Managed Redis (ElastiCache) refuses SYNC/PSYNC, so when `redis-cli --rdb` is refused the backup
falls back to DUMP payloads of every key with its TTL (the values are in RDB encoding too).
Restores load an RDB into a throwaway `redis-server` and copy its keys across with
DUMP/RESTORE, so both formats restore into a live server, over TLS and with auth.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

import redis

DUMP_MAGIC = b"UTPREDISDUMP1\n"
Say = Callable[[str], None]


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class RedisOpsError(RuntimeError):
    """A Redis backup or restore step failed; the message says which (no secrets)."""


@dataclass(frozen=True)
class RedisTarget:
    url: str = field(repr=False)

    @property
    def safe(self) -> str:
        parsed = urlparse(self.url)
        return f"{parsed.scheme}://{parsed.hostname}:{parsed.port or 6379}{parsed.path or ''}"

    def client(self, db: int | None = None) -> redis.Redis:
        # Options from the URL win over keyword arguments in from_url: the database is set on
        # the pool afterwards to pick another one than the URL's.
        pool = redis.ConnectionPool.from_url(self.url, socket_timeout=30, socket_connect_timeout=10)
        if db is not None:
            pool.connection_kwargs["db"] = db
        return redis.Redis.from_pool(pool)

    def cli_args(self) -> tuple[list[str], dict[str, str]]:
        """redis-cli arguments and environment; the password goes in REDISCLI_AUTH only."""
        parsed = urlparse(self.url)
        args = ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 6379)]
        env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
        if parsed.username:
            args += ["--user", unquote(parsed.username)]
        if parsed.password:
            env["REDISCLI_AUTH"] = unquote(parsed.password)
        if parsed.scheme == "rediss":
            args.append("--tls")
            query = parse_qs(parsed.query)
            if query.get("ssl_cert_reqs", [""])[0].lower() in ("none", "cert_none"):
                args.append("--insecure")
            if query.get("ssl_ca_certs"):
                args += ["--cacert", query["ssl_ca_certs"][0]]
        return args, env


def _gzip_file(source: Path, target: Path) -> None:
    with source.open("rb") as raw, gzip.open(target, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(raw, packed, 1 << 20)


def snapshot(target: RedisTarget, workdir: Path, say: Say) -> tuple[Path, str, dict[str, Any]]:
    """Write a compressed snapshot; returns (file, format, details with key counts)."""
    version = _server_version(target)
    cli = shutil.which("redis-cli")
    if cli is not None:
        rdb = workdir / "redis.rdb"
        args, env = target.cli_args()
        done = subprocess.run(
            [cli, *args, "--rdb", str(rdb)], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and rdb.is_file() and rdb.stat().st_size > 0:
            with scratch_server(rdb) as scratch:
                keys = key_counts(scratch)
            out = workdir / "redis.rdb.gz"
            _gzip_file(rdb, out)
            rdb.unlink()
            return out, "rdb+gzip", {"keys": keys, "redis_version": version}
        say(
            "  redis: the server refused a replication snapshot "
            f"({(done.stderr or done.stdout).strip()[:200]}); dumping key by key instead"
        )
    else:
        say("  redis: redis-cli not installed; dumping key by key")
    out = workdir / "redis.dump.gz"
    with gzip.open(out, "wb", compresslevel=6) as stream:
        keys = write_dump(target, stream)
    return out, "redis-dump+gzip", {"keys": keys, "redis_version": version}


def _server_version(target: RedisTarget) -> str:
    try:
        with target.client() as client:
            info = client.info("server")
    except redis.RedisError as exc:
        raise RedisOpsError(f"cannot reach Redis at {target.safe}: {exc}") from None
    return str(info.get("redis_version", ""))


def _databases(client: redis.Redis) -> list[int]:
    keyspace = client.info("keyspace")
    return sorted(int(name[2:]) for name in keyspace if name.startswith("db"))


def key_counts(target: RedisTarget) -> dict[str, int]:
    with target.client() as client:
        return {
            str(db): int(client.info("keyspace")[f"db{db}"]["keys"]) for db in _databases(client)
        }


def iter_entries(target: RedisTarget) -> Iterator[tuple[int, bytes, int, bytes]]:
    """(db, key, pttl or 0 for none, DUMP payload) for every key of every database."""
    with target.client() as probe:
        databases = _databases(probe)
    for db in databases:
        with target.client(db) as client:
            for batch in _batched(client.scan_iter(count=1000), 500):
                pipe = client.pipeline(transaction=False)
                for key in batch:
                    pipe.dump(key)
                    pipe.pttl(key)
                replies = pipe.execute()
                for i, key in enumerate(batch):
                    payload, pttl = replies[2 * i], replies[2 * i + 1]
                    if payload is None:  # expired or deleted while scanning
                        continue
                    yield db, key, max(int(pttl), 0), payload


def _batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_dump(target: RedisTarget, stream: _Writable) -> dict[str, int]:
    stream.write(DUMP_MAGIC)
    counts: dict[str, int] = {}
    for db, key, pttl, payload in iter_entries(target):
        stream.write(struct.pack(">HIqI", db, len(key), pttl, len(payload)))
        stream.write(key)
        stream.write(payload)
        counts[str(db)] = counts.get(str(db), 0) + 1
    return counts


def read_dump(stream: _Readable) -> Iterator[tuple[int, bytes, int, bytes]]:
    if stream.read(len(DUMP_MAGIC)) != DUMP_MAGIC:
        raise RedisOpsError("the Redis dump does not start with the expected header")
    header = struct.calcsize(">HIqI")
    while head := stream.read(header):
        if len(head) != header:
            raise RedisOpsError("the Redis dump is truncated")
        db, key_len, pttl, size = struct.unpack(">HIqI", head)
        key, payload = stream.read(key_len), stream.read(size)
        if len(key) != key_len or len(payload) != size:
            raise RedisOpsError("the Redis dump is truncated")
        yield db, key, pttl, payload


@contextlib.contextmanager
def scratch_server(rdb: Path) -> Iterator[RedisTarget]:
    """A private redis-server on a unix socket, loaded from `rdb`."""
    server = shutil.which("redis-server")
    if server is None:
        raise RedisOpsError(
            "redis-server is needed to read an RDB snapshot (apt install redis-server)"
        )
    with tempfile.TemporaryDirectory(prefix="utp-redis-") as tmp:
        shutil.copyfile(rdb, Path(tmp) / "dump.rdb")
        sock = Path(tmp) / "redis.sock"
        process = subprocess.Popen(
            [server, "--port", "0", "--unixsocket", str(sock), "--dir", tmp,
             "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            target = RedisTarget(f"unix://{sock}")
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    output = (
                        process.stdout.read().decode(errors="replace") if process.stdout else ""
                    )
                    raise RedisOpsError(f"the RDB snapshot does not load: {output.strip()[-300:]}")
                with contextlib.suppress(redis.RedisError, OSError), target.client() as client:
                    if client.ping() and not client.info("persistence").get("loading"):
                        break
                if time.monotonic() > deadline:
                    raise RedisOpsError("the scratch redis-server did not start within 30 s")
                time.sleep(0.05)
            yield target
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stdout:
                process.stdout.close()


def target_key_count(target: RedisTarget) -> int:
    try:
        return sum(key_counts(target).values())
    except redis.RedisError as exc:
        raise RedisOpsError(f"cannot reach Redis at {target.safe}: {exc}") from None


def load_entries(
    target: RedisTarget, entries: Iterator[tuple[int, bytes, int, bytes]], *, replace: bool
) -> dict[str, int]:
    """RESTORE every entry into `target` (its databases by number); returns keys per db."""
    counts: dict[str, int] = {}
    clients: dict[int, redis.Redis] = {}
    pipes: dict[int, Any] = {}
    try:
        for db, key, pttl, payload in entries:
            if db not in clients:
                clients[db] = target.client(db)
                pipes[db] = clients[db].pipeline(transaction=False)
            pipes[db].restore(key, pttl, payload, replace=replace)
            counts[str(db)] = counts.get(str(db), 0) + 1
            if len(pipes[db]) >= 500:
                pipes[db].execute()
        for pipe in pipes.values():
            pipe.execute()
    except redis.ResponseError as exc:
        raise RedisOpsError(f"Redis refused a restored key: {exc}") from None
    except redis.RedisError as exc:
        raise RedisOpsError(f"restoring into {target.safe} failed: {exc}") from None
    finally:
        for client in clients.values():
            client.close()
    return counts


@contextlib.contextmanager
def open_entries(path: Path, fmt: str) -> Iterator[Iterator[tuple[int, bytes, int, bytes]]]:
    """The entries of a stored snapshot, whichever format it was written in."""
    if fmt == "redis-dump+gzip":
        with gzip.open(path, "rb") as stream:
            yield read_dump(stream)
        return
    if fmt != "rdb+gzip":
        raise RedisOpsError(f"unknown Redis snapshot format {fmt!r}")
    with tempfile.TemporaryDirectory(prefix="utp-rdb-") as tmp:
        rdb = Path(tmp) / "dump.rdb"
        with gzip.open(path, "rb") as packed, rdb.open("wb") as raw:
            shutil.copyfileobj(packed, raw, 1 << 20)
        with scratch_server(rdb) as scratch:
            yield iter_entries(scratch)
