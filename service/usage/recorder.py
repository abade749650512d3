"""Usage events: one per translated text (cache hits too), through a durable outbox.

`record()` runs on the request path and `recorded()` is awaited before the response: the
events recorded during one event-loop iteration (by every request in it) are appended to the
on-disk journal in one transaction at the end of that iteration (see `journal.py`), and a copy
is kept in memory. One write for many requests instead of one each: a few per cent of a cached
translation's CPU (bench/README.md, third round). A background task writes events to the
database in journal order, in batches, with the daily rollups in the same transaction, and only
then deletes them from the journal. The insert skips ids already stored and the rollups count
only the rows it inserted, so a batch written again after a crash between the commit and the
journal delete cannot double-count: exactly once by event id. A database outage only delays
events; a failed write keeps them and retries with backoff. An event the database refuses for
its content (SQLSTATE classes 22/23: NUL in a text, a deleted workspace) is no outage: it is
isolated from its batch, moved to the journal's dead-letter table and counted in
`utp_dead_letters_total{store="usage"}`, and the rest flows on. While the database is a
read-only replica (`read_only()`, the DR region before promotion) nothing is tried: the events
wait in the outbox and are written once it is promoted.

Without a journal (unit tests, tools) the outbox is the in-memory buffer alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import rejects
from service.db.models import UsageEvent, UserErasure
from service.events import Event
from service.observability import metrics
from service.usage import rollup
from service.usage.journal import Journal

log = logging.getLogger(__name__)

TRANSIENT = (SQLAlchemyError, OSError, TimeoutError)


def erasure_digest(key: bytes, workspace_id: uuid.UUID, user_id: str) -> str:
    """Keyed digest naming an erased user without keeping their id."""
    return hmac.new(key, f"{workspace_id}:{user_id}".encode(), hashlib.sha256).hexdigest()


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(Event)
# Column widths of usage_events: an over-long value must not wedge the outbox forever.
_WIDTHS = {
    "user_id": 64,
    "channel_id": 64,
    "provider": 32,
    "model": 100,
    "source_lang": 16,
    "target_lang": 16,
    "outcome": 32,
}


@dataclass
class _Source:
    """One journal (ours, or one a departed process left) and the events read from it."""

    journal: Journal | None
    # (seq, event); None stands for a journal row that could not be decoded.
    memory: deque[tuple[int, Event | None]] = field(default_factory=deque)
    # True while the journal may hold events newer than the memory copy (memory was full, or
    # the journal was left by an earlier process).
    overflow: bool = True
    done: int = 0

    def take(self, size: int, cap: int) -> list[tuple[int, Event | None]]:
        if not self.memory and self.overflow and self.journal is not None:
            rows = self.journal.read(self.done, cap)
            for seq, body in rows:
                try:
                    self.memory.append((seq, _DECODER.decode(body)))
                except msgspec.DecodeError:
                    log.error("usage outbox row %d of %s is unreadable; skipped", seq, self.journal)
                    self.memory.append((seq, None))
            if len(rows) < cap:
                self.overflow = False
        return [self.memory[i] for i in range(min(size, len(self.memory)))]

    def done_through(self, count: int) -> None:
        last = 0
        for _ in range(count):
            seq, _event = self.memory.popleft()
            last = max(last, seq)
        if last > 0 and self.journal is not None:
            self.journal.delete_through(last)
            self.done = last


class UsageRecorder:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        journal: Journal | None = None,
        orphans: Sequence[Journal] = (),
        erasure_key: bytes = b"",
        flush_interval: float = 0.5,
        batch_size: int = 500,
        max_backoff: float = 30.0,
        memory_limit: int = 50_000,
        on_recovered: Callable[[], Awaitable[None]] | None = None,
        read_only: Callable[[], bool] = lambda: False,
    ) -> None:
        self._sessions = sessions
        self._own = _Source(journal, overflow=journal is not None)
        self._orphans = [_Source(j) for j in orphans]
        self._erasure_key = erasure_key
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._max_backoff = max_backoff
        self._memory_limit = max(memory_limit, batch_size)
        self._on_recovered = on_recovered
        self._read_only = read_only
        self._seq = 0
        self._pending = (journal.count() if journal else 0) + sum(j.count() for j in orphans)
        self._oldest: float | None = time.monotonic() if self._pending else None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.failing = False
        # Events recorded in this event-loop iteration, and the requests waiting for them.
        self._queued: list[Event] = []
        self._waiting: list[asyncio.Future[None]] = []

    def record(self, event: Event) -> None:
        """Queue `event` for the journal; `await recorded()` before answering the request."""
        self._queued.append(event)
        if len(self._queued) > 1:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (tools): no one else to share the write with
            self._commit()
            return
        loop.call_soon(self._commit)

    async def recorded(self) -> None:
        """Return once every event recorded so far is in the journal (or the memory buffer)."""
        if self._queued:
            # A future of its own: a cancelled request must not cancel the others' wait.
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter

    def _commit(self) -> None:
        events, self._queued = self._queued, []
        waiting, self._waiting = self._waiting, []
        try:
            if events:
                self._store(events)
        finally:
            for waiter in waiting:
                if not waiter.done():
                    waiter.set_result(None)

    def _store(self, events: list[Event]) -> None:
        own = self._own
        seqs: list[int] | None = None
        if own.journal is not None:
            try:
                seqs = own.journal.append([_ENCODER.encode(e) for e in events])
            except (sqlite3.Error, OSError) as exc:
                # A full or broken disk must not fail the translation: keep it in memory.
                log.error("usage outbox journal not writable (%s): events kept in memory", exc)
                metrics.USAGE_WRITE_FAILURES.inc(len(events))
        if seqs is None:
            for event in events:
                # Negative: never mistaken for a journal row (see `_Source.done_through`).
                self._seq -= 1
                if len(own.memory) >= self._memory_limit:
                    log.error("usage buffer full (%d events): event dropped", len(own.memory))
                    metrics.USAGE_WRITE_FAILURES.inc()
                    continue
                own.memory.append((self._seq, event))
                self._count_pending()
            return
        for seq, event in zip(seqs, events, strict=True):
            if own.overflow or len(own.memory) >= self._memory_limit:
                own.overflow = True  # it is in the journal; read back once memory has drained
            else:
                own.memory.append((seq, event))
            self._count_pending()

    def _count_pending(self) -> None:
        self._pending += 1
        if self._oldest is None:
            self._oldest = time.monotonic()

    @property
    def pending(self) -> int:
        return self._pending

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-flusher")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the background task and write what is waiting (bounded; the journal keeps
        whatever could not be written, for the next start)."""
        self._commit()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # A replica takes nothing: the journal keeps it all for the next start.
        if not self._read_only():
            with contextlib.suppress(*TRANSIENT):
                async with asyncio.timeout(grace):
                    while await self.flush():
                        pass
        for source in (self._own, *self._orphans):
            if source.journal is not None:
                source.journal.close()

    async def flush(self) -> int:
        """Write up to one batch; returns how many events were written (0: nothing waits)."""
        self._commit()
        async with self._lock:
            for source in (self._own, *self._orphans):
                batch = source.take(self._batch_size, self._memory_limit)
                if batch:
                    break
            else:
                self._publish()
                return 0
            events = [e for _, e in batch if e is not None]
            if events:
                await self._write(events, source)
            source.done_through(len(batch))
            self._pending = max(0, self._pending - len(batch))
            if source is not self._own and not source.memory and not source.overflow:
                assert source.journal is not None
                source.journal.close()
                self._orphans.remove(source)
            if self._pending == 0:
                self._oldest = None
            self._publish()
            return len(batch)

    async def drain(self) -> None:
        """Write everything waiting now (the privacy API, tests); raises if the database is down."""
        while await self.flush():
            pass

    async def _write(self, events: list[Event], source: _Source | None = None) -> None:
        # An event the database refuses for its content (not an outage) is set aside, so the
        # events behind it, of every workspace, still get through.
        def set_aside(event: Event, exc: BaseException) -> None:
            reason = rejects.reason_of(exc)
            log.error("usage event %s set aside, the database refuses it: %s", event.id, reason)
            metrics.DEAD_LETTERS.labels(store="usage").inc()
            journal = (source or self._own).journal or self._own.journal
            if journal is not None:
                journal.set_aside(_ENCODER.encode(event), reason)

        await rejects.isolate(events, self._insert, set_aside)

    async def _insert(self, events: Sequence[Event]) -> None:
        async with self._sessions.begin() as session:
            events = await self._anonymise(session, events)
            rows = [_row(e) for e in events]
            inserted = await rollup.insert_ignoring_duplicates(session, rows)
            fresh = [r for r in rows if r["id"] in inserted]
            if fresh:
                await session.execute(rollup.upsert(session), rollup.aggregate(fresh))

    async def _anonymise(self, session: AsyncSession, events: Sequence[Event]) -> list[Event]:
        """Events of users erased meanwhile (recorded before the erasure) lose their user."""
        digests = {
            erasure_digest(self._erasure_key, e.workspace_id, e.user_id): (
                e.workspace_id,
                e.user_id,
            )
            for e in events
            if e.user_id is not None
        }
        if not digests:
            return list(events)
        erased = {
            digests[h]
            for h in await session.scalars(
                sa.select(UserErasure.subject_hash).where(UserErasure.subject_hash.in_(digests))
            )
        }
        if not erased:
            return list(events)
        return [
            msgspec.structs.replace(e, user_id=None) if (e.workspace_id, e.user_id) in erased else e
            for e in events
        ]

    def _publish(self) -> None:
        metrics.USAGE_BUFFER_DEPTH.set(self._pending)
        oldest = self._oldest
        metrics.USAGE_BUFFER_OLDEST_AGE.set(time.monotonic() - oldest if oldest else 0)

    async def _run(self) -> None:
        backoff = self._flush_interval
        while True:
            await asyncio.sleep(backoff)
            if self._read_only():
                # Nothing to try on a replica; once promoted, the flush below writes it all
                # and `on_recovered` reconciles the budgets with what was spent meanwhile.
                self._commit()
                self.failing = self.failing or self._pending > 0
                self._publish()
                backoff = self._flush_interval
                continue
            try:
                while await self.flush() == self._batch_size:
                    pass
            except TRANSIENT as exc:
                metrics.USAGE_WRITE_FAILURES.inc()
                self.failing = True
                self._publish()
                backoff = min(self._max_backoff, backoff * 2)
                log.warning(
                    "usage events not written (%d waiting), retrying in %.1fs: %s",
                    self._pending,
                    backoff,
                    type(exc).__name__,
                )
            else:
                backoff = self._flush_interval
                if self.failing and self._pending == 0:
                    self.failing = False
                    if self._on_recovered is not None:
                        try:
                            await self._on_recovered()
                        except TRANSIENT as exc:
                            log.warning("after the outage: %s", exc)


def _row(event: Event) -> dict[str, object]:
    row: dict[str, object] = {
        "id": event.id,
        "workspace_id": event.workspace_id,
        "api_key_id": event.api_key_id,
        "user_id": event.user_id,
        "channel_id": event.channel_id,
        "provider": event.provider,
        "model": event.model,
        "source_lang": event.source_lang,
        "target_lang": event.target_lang,
        "characters": event.characters,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "cost": event.cost,
        "latency_ms": event.latency_ms,
        "cache_hit": event.cache_hit,
        "outcome": event.outcome,
        "created_at": event.created_at,
    }
    for column, width in _WIDTHS.items():
        value = row[column]
        if isinstance(value, str) and len(value) > width:
            row[column] = value[:width]
    return row


__all__ = ["Event", "UsageEvent", "UsageRecorder", "erasure_digest"]
