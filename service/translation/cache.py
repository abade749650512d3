"""Content-addressed translation cache: memory LRU -> Redis (when configured) -> database.

Every tier is optional to the request: a Redis or database failure makes the cache miss, it
never fails a translation. After a Redis error the cache stops asking Redis for a few seconds
instead of paying a timeout on every request.

The database tier (the translation memory) is read only when Redis is not configured or is
down: with Redis it would add a round trip to every miss for entries Redis already holds.

Writes go to memory at once and to the slower tiers after the reply: Redis gets what the
requests of one event-loop iteration stored in one pipeline (sent while the replies go out,
so no request waits for it, and concurrent misses share a round trip); the translation memory
gets batched multi-row INSERTs every half second. The memory tier serves the next request of
this process meanwhile; another replica may miss for the millisecond until Redis has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.coalesce import Coalescer
from service.db import rejects
from service.db.models import TranslationMemory
from service.db.session import insert_of
from service.observability import metrics

log = logging.getLogger(__name__)
KEY_VERSION = "v1"
MEMORY_FLUSH_SECONDS = 0.5
MEMORY_BATCH = 500
MEMORY_QUEUE_LIMIT = 20_000
REDIS_QUEUE_LIMIT = 20_000


_MEMORY_HITS = metrics.CACHE_LOOKUPS.labels(tier="memory", result="hit")
_MEMORY_MISSES = metrics.CACHE_LOOKUPS.labels(tier="memory", result="miss")


class CachedTranslation(msgspec.Struct, frozen=True):
    text: str
    source: str
    target: str
    provider: str
    model: str | None = None
    characters: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: str = "0"  # Decimal as text: exact and JSON-safe
    pivot: tuple[str, ...] = ()


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(CachedTranslation).decode


def cache_key(
    text: str,
    *,
    source: str,
    target: str,
    tier: str,
    glossary: str = "",
    formality: str | None = None,
    context: Iterable[str] = (),
    provider: str | None = None,
    scope: str = "",
) -> str:
    """The key covers everything that changes the translation a reader would get.

    `scope` (the workspace) keeps tenants apart: otherwise `cached: true` would tell one
    workspace what another just translated, and hand it translations paid with another's keys.
    """
    context_hash = hashlib.sha256("\x1e".join(context).encode()).hexdigest()[:16]
    material = "\x1f".join(
        (
            KEY_VERSION,
            source,
            target,
            tier,
            glossary,
            formality or "",
            context_hash,
            provider or "",
            scope,
            text,
        )
    )
    return hashlib.sha256(material.encode()).hexdigest()


class MemoryLRU:
    def __init__(self, max_entries: int, ttl_seconds: float) -> None:
        self._data: OrderedDict[str, tuple[float, CachedTranslation]] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl_seconds

    def get(self, key: str) -> CachedTranslation | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    def set(self, key: str, value: CachedTranslation) -> None:
        if self._max <= 0:
            return
        self._data[key] = (time.monotonic() + self._ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class TranslationCache:
    def __init__(
        self,
        *,
        memory: MemoryLRU,
        redis: Redis | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        ttl_seconds: int = 30 * 24 * 3600,
        redis_retry_seconds: float = 5.0,
    ) -> None:
        self.memory = memory
        self._redis = redis
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._redis_retry = redis_retry_seconds
        self._redis_down_until = 0.0
        # Translation memory rows waiting to be written, by key; flushed in batches.
        self._rows: dict[str, dict[str, Any]] = {}
        self._flusher: asyncio.Task[None] | None = None
        # Entries waiting for the Redis pipeline, by key, and the task that sends them.
        self._redis_rows: dict[str, CachedTranslation] = {}
        self._redis_writer: asyncio.Task[None] | None = None
        self._lookups: Coalescer[Redis, str, bytes | str | None] = Coalescer(self._mget)

    @property
    def redis_enabled(self) -> bool:
        return self._redis is not None

    def _redis_usable(self) -> Redis | None:
        if self._redis is None or time.monotonic() < self._redis_down_until:
            return None
        return self._redis

    def _redis_failed(self, exc: Exception) -> None:
        if time.monotonic() >= self._redis_down_until:
            log.warning("redis unavailable, caching in memory only for now: %s", exc)
        self._redis_down_until = time.monotonic() + self._redis_retry

    def peek(self, key: str) -> CachedTranslation | None:
        """The memory tier alone, without awaiting anything (counted as a memory hit)."""
        value = self.memory.get(key)
        if value is not None:
            _MEMORY_HITS.inc()
        return value

    async def get(self, key: str) -> CachedTranslation | None:
        """Every tier, fastest first."""
        value = self.peek(key)
        return value if value is not None else await self.lookup(key)

    async def lookup(self, key: str) -> CachedTranslation | None:
        """The tiers after memory, for a key `peek` did not find."""
        _MEMORY_MISSES.inc()
        redis = self._redis_usable()
        if redis is not None:
            try:
                raw = await self._lookups.submit(redis, key)
            except (RedisError, OSError, TimeoutError) as exc:
                self._redis_failed(exc)
            else:
                if raw is not None:
                    metrics.CACHE_LOOKUPS.labels(tier="redis", result="hit").inc()
                    found = _decode(raw)
                    self.memory.set(key, found)
                    return found
                metrics.CACHE_LOOKUPS.labels(tier="redis", result="miss").inc()
        if self._sessions is not None and redis is None:
            stored = await self._get_db(key)
            metrics.CACHE_LOOKUPS.labels(tier="database", result="hit" if stored else "miss").inc()
            if stored is not None:
                self.memory.set(key, stored)
                self._queue_redis(key, stored)
                return stored
        return None

    async def _mget(self, redis: Redis, keys: list[str]) -> list[bytes | str | None]:
        """The lookups of one loop iteration (a fan-out's, concurrent misses') as one MGET.

        Keys of any workspace go together: this needs Redis without cluster mode, as deployed
        (infra/cache.py), which the plain `Redis` client needs anyway."""
        found: list[bytes | str | None] = await redis.mget(["utp:tr:" + key for key in keys])
        return found

    def set(
        self, key: str, value: CachedTranslation, *, workspace_id: uuid.UUID | None = None
    ) -> None:
        """Store in memory now; Redis and the translation memory follow after the reply."""
        self.memory.set(key, value)
        self._queue_redis(key, value)
        if self._sessions is not None:
            self._queue_db(key, value, workspace_id)

    async def drain(self) -> None:
        """Write what is queued for Redis and the translation memory (at shutdown, in tests)."""
        if self._redis_writer is not None:
            await self._redis_writer
            self._redis_writer = None
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        while self._rows:
            await self._flush_rows()

    def _queue_redis(self, key: str, value: CachedTranslation) -> None:
        if self._redis_usable() is None or len(self._redis_rows) >= REDIS_QUEUE_LIMIT:
            return  # Redis is away or far behind: this is a cache, memory has it
        self._redis_rows[key] = value
        if self._redis_writer is None or self._redis_writer.done():
            # Runs after the current callbacks: what this loop iteration stores goes together.
            self._redis_writer = asyncio.create_task(self._write_redis(), name="cache-redis")

    async def _write_redis(self) -> None:
        """Send the queued entries, one pipeline per batch, until none is left."""
        while self._redis_rows:
            redis = self._redis_usable()
            rows, self._redis_rows = self._redis_rows, {}
            if redis is None:
                continue  # dropped: Redis went away while they waited
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for key, value in rows.items():
                        pipe.set("utp:tr:" + key, _encode(value), ex=self._ttl)
                    await pipe.execute()
            except (RedisError, OSError, TimeoutError) as exc:
                self._redis_failed(exc)

    async def _get_db(self, key: str) -> CachedTranslation | None:
        assert self._sessions is not None
        try:
            async with self._sessions() as session:
                row = await session.get(TranslationMemory, key)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("translation memory unavailable: %s", exc)
            return None
        if row is None:
            return None
        meta: dict[str, Any] = row.meta or {}
        return CachedTranslation(
            text=row.translated_text,
            source=row.source_lang,
            target=row.target_lang,
            provider=row.provider,
            model=row.model,
            characters=int(meta.get("characters", 0)),
            input_tokens=int(meta.get("input_tokens", 0)),
            output_tokens=int(meta.get("output_tokens", 0)),
            cost=str(meta.get("cost", "0")),
            pivot=tuple(meta.get("pivot", ())),
        )

    def _queue_db(self, key: str, value: CachedTranslation, workspace_id: uuid.UUID | None) -> None:
        if len(self._rows) >= MEMORY_QUEUE_LIMIT:
            return  # the database is far behind: this is a cache, the faster tiers have it
        self._rows[key] = {
            "cache_key": key,
            "workspace_id": workspace_id,
            "source_lang": value.source,
            "target_lang": value.target,
            "provider": value.provider,
            "model": value.model,
            "translated_text": value.text,
            "meta": {
                "characters": value.characters,
                "input_tokens": value.input_tokens,
                "output_tokens": value.output_tokens,
                "cost": value.cost,
                "pivot": list(value.pivot),
            },
        }
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name="translation-memory")

    async def _flush_loop(self) -> None:
        while self._rows:
            await asyncio.sleep(MEMORY_FLUSH_SECONDS)
            await self._flush_rows()

    async def _flush_rows(self) -> None:
        """Write one batch in one statement; keys stored meanwhile by another replica win."""
        assert self._sessions is not None
        keys = list(self._rows)[:MEMORY_BATCH]
        rows = [self._rows.pop(k) for k in keys]
        if not rows:
            return
        sessions = self._sessions

        async def write(batch: Sequence[dict[str, Any]]) -> None:
            async with sessions.begin() as session:
                statement = _memory_insert(session.get_bind().dialect.name)
                await session.execute(statement, list(batch))

        def set_aside(row: dict[str, Any], exc: BaseException) -> None:
            # A cache row, not a record: dropped (the faster tiers still have it), counted, and
            # logged without its text, which belongs to a tenant.
            metrics.DEAD_LETTERS.labels(store="translation_memory").inc()
            log.error(
                "translation memory: entry %s of workspace %s refused by the database: %s",
                row["cache_key"][:16],
                row["workspace_id"],
                rejects.reason_of(exc),
            )

        try:
            await rejects.isolate(rows, write, set_aside)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            # The database is away: the translations are still served from the faster tiers.
            # The reason only: SQLAlchemy's message carries the parameters, other tenants' text.
            log.warning(
                "translation memory: %d entries not written: %s", len(rows), rejects.reason_of(exc)
            )

    async def ping_redis(self) -> bool:
        if self._redis is None:
            return True
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def clear_memory(self) -> None:
        self.memory.clear()


@functools.lru_cache(maxsize=4)
def _memory_insert(dialect: str) -> Any:
    """The translation memory's batch insert, built once per dialect (rows come at execution)."""
    return insert_of(dialect)(TranslationMemory).on_conflict_do_nothing(
        index_elements=["cache_key"]
    )
