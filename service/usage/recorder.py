"""Usage events: recorded for every translated text (cache hits too), written in batches.

Requests never wait for the database: events go into an in-process buffer that a background
task flushes in order. A failed write keeps the events and retries with backoff; inserts skip
ids already stored, so a retry after an ambiguous failure cannot double-count. The buffer is
in memory: events still buffered when the process is killed are lost (a durable on-disk outbox
is part of the multi-tenant usage work; see the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.models import UsageEvent
from service.observability import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    workspace_id: uuid.UUID
    target_lang: str
    outcome: str
    source_lang: str | None = None
    api_key_id: uuid.UUID | None = None
    user_id: str | None = None
    channel_id: str | None = None
    provider: str | None = None
    model: str | None = None
    characters: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    latency_ms: float = 0.0
    cache_hit: bool = False
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class UsageRecorder:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        flush_interval: float = 0.5,
        batch_size: int = 500,
        max_backoff: float = 30.0,
    ) -> None:
        self._sessions = sessions
        self._buffer: deque[tuple[float, Event]] = deque()
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def record(self, event: Event) -> None:
        self._buffer.append((time.monotonic(), event))
        metrics.USAGE_BUFFER_DEPTH.set(len(self._buffer))

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-flusher")

    async def stop(self) -> None:
        """Stop the background task and write what is buffered (best effort, bounded)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(SQLAlchemyError, OSError, TimeoutError):
            async with asyncio.timeout(10):
                while self._buffer:
                    await self.flush()

    async def flush(self) -> int:
        """Write up to one batch; returns how many events were written."""
        async with self._lock:
            if not self._buffer:
                return 0
            batch = [event for _, event in list(self._buffer)[: self._batch_size]]
            await self._insert(batch)
            for _ in batch:
                self._buffer.popleft()
            self._publish()
            return len(batch)

    async def _insert(self, batch: list[Event]) -> None:
        async with self._sessions.begin() as session:
            ids = [e.id for e in batch]
            existing = set(
                (
                    await session.scalars(sa.select(UsageEvent.id).where(UsageEvent.id.in_(ids)))
                ).all()
            )
            rows = [asdict(e) for e in batch if e.id not in existing]
            if rows:
                await session.execute(sa.insert(UsageEvent), rows)

    def _publish(self) -> None:
        metrics.USAGE_BUFFER_DEPTH.set(len(self._buffer))
        oldest = self._buffer[0][0] if self._buffer else None
        metrics.USAGE_BUFFER_OLDEST_AGE.set(time.monotonic() - oldest if oldest else 0)

    async def _run(self) -> None:
        backoff = self._flush_interval
        while True:
            await asyncio.sleep(backoff)
            try:
                while await self.flush() == self._batch_size:
                    pass
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                metrics.USAGE_WRITE_FAILURES.inc()
                self._publish()
                backoff = min(self._max_backoff, backoff * 2)
                log.warning(
                    "usage events not written (%d waiting), retrying in %.1fs: %s",
                    len(self._buffer),
                    backoff,
                    type(exc).__name__,
                )
            else:
                backoff = self._flush_interval
