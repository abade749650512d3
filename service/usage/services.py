"""The usage services of one process, built in the app's lifespan: outbox, budgets, rate limits,
and the maintenance job (retention, stale reservations, reconciliation after an outage)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import SYSTEM_CLOCK, Clock
from service.observability import metrics
from service.settings import Settings, UsageSettings
from service.usage.budgets import Budgets
from service.usage.journal import Journal
from service.usage.privacy import purge_message_text
from service.usage.ratelimit import RateLimiter
from service.usage.recorder import TRANSIENT, UsageRecorder

log = logging.getLogger(__name__)

_READS_ONLY = frozenset({"budget gauge"})


@dataclass
class UsageServices:
    settings: UsageSettings
    sessions: async_sessionmaker[AsyncSession]
    recorder: UsageRecorder
    budgets: Budgets
    limiter: RateLimiter
    erasure_key: bytes
    clock: Clock
    secret_key: str = field(default="", repr=False)
    # The database is a read-only replica (DR before promotion): only the reading steps run.
    read_only: Callable[[], bool] = field(default=lambda: False, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def maintain(self) -> None:
        """One round of the periodic job; each part is retried next round if it fails."""
        for name, step in (
            ("retention", self._retention),
            ("stale reservations", self.budgets.release_stale),
            ("reconciliation", self._reconcile),
            ("budget gauge", self._publish_budgets),
            ("revoked tokens", self._purge_revoked_tokens),
        ):
            if self.read_only() and name not in _READS_ONLY:
                continue
            try:
                await step()
            except TRANSIENT as exc:
                log.warning("usage maintenance (%s) failed: %s", name, type(exc).__name__)

    async def _retention(self) -> None:
        await purge_message_text(
            self.sessions,
            retention_days=self.settings.message_retention_days,
            now=self.clock.now(),
        )

    async def _publish_budgets(self) -> None:
        ratios = await self.budgets.consumption()
        metrics.publish_budget_consumption(
            {metrics.workspace_label(self.secret_key, ws): r for ws, r in ratios.items()}
        )

    async def _purge_revoked_tokens(self) -> None:
        from service.accounts.tokens import purge_expired

        async with self.sessions.begin() as session:
            await purge_expired(session)

    async def _reconcile(self) -> None:
        if self.budgets.needs_reconcile and self.recorder.pending == 0:
            await self.budgets.reconcile()

    def start(self) -> None:
        self.recorder.start()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.recorder.stop()

    async def _run(self) -> None:
        while True:
            await self.maintain()
            await asyncio.sleep(self.settings.maintenance_interval_seconds)


def build_usage(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    redis: Redis | None,
    clock: Clock = SYSTEM_CLOCK,
    read_only: Callable[[], bool] = lambda: False,
) -> UsageServices:
    """Claim this process's outbox journal (draining any a departed process left) and wire."""
    usage = settings.usage
    directory = settings.server.data_dir
    journal = Journal.claim(directory, sync_interval=usage.usage_outbox_sync_seconds)
    orphans = Journal.orphans(directory)
    if orphans or journal.count():
        log.info(
            "usage outbox: %d event(s) left by an earlier process will be written",
            journal.count() + sum(j.count() for j in orphans),
        )
    journal.start_sync()
    erasure_key = hashlib.sha256(
        b"utp-usage-erasure:" + settings.security.secret_key.get().encode()
    ).digest()
    budgets = Budgets(
        sessions,
        cache_seconds=usage.budget_cache_seconds,
        default_soft_ratio=usage.budget_soft_limit_ratio,
        reservation_ttl=usage.budget_reservation_ttl_seconds,
        clock=clock,
        read_only=read_only,
    )
    recorder = UsageRecorder(
        sessions,
        journal=journal,
        orphans=orphans,
        erasure_key=erasure_key,
        flush_interval=usage.usage_flush_interval_seconds,
        batch_size=usage.usage_flush_batch_size,
        on_recovered=budgets.reconcile,
        read_only=read_only,
    )
    limiter = RateLimiter(usage, redis, retry_seconds=settings.cache.redis_retry_seconds)
    return UsageServices(
        settings=usage,
        sessions=sessions,
        recorder=recorder,
        budgets=budgets,
        limiter=limiter,
        erasure_key=erasure_key,
        clock=clock,
        secret_key=settings.security.secret_key.get(),
        read_only=read_only,
    )
