"""Monthly budgets per workspace, channel or user, enforced atomically around provider calls.

A paid call first *reserves* its estimated cost against every budget that applies (the
workspace's, the channel's, the user's) with one conditional UPDATE per budget:

    UPDATE budget_periods SET reserved = reserved + :estimate
    WHERE budget_id = :id AND period = :month AND spent + reserved + :estimate <= limit

all in one transaction, rows in id order. Racing requests serialise on the row lock and each
re-checks the condition, so no interleaving can hold more than the limit. When the call ends,
*settle* swaps the estimate for the actual cost. A refused reservation raises `BudgetExceeded`
without holding anything; the engine then tries a cheaper provider (the free offline engine
needs no reservation at all) and answers 402 when none fits.

Estimates of token-priced providers (LLMs) are doubled, since their cost is only known after the
call; character-priced providers bill what they estimate, so spend never exceeds a limit.

The soft limit (a fraction of the limit, 80 % by default) switches requests to the `economy`
tier. It is read from a per-workspace snapshot refreshed every `cache_seconds`, so the cached
path never waits on the database.

Database down: reservations are not possible, so translation goes on without them (fail open:
availability first). Those calls' costs reach the ledger through the outbox, and `reconcile()`
raises each budget's spend to what the ledger says once the database is back.

Database a read-only replica (the DR region before promotion, `read_only()`): nothing can be
reserved either, but the budgets can still be read, so a paid call that would cross a hard
limit by the replicated spend is still refused (402) and the soft limit still downgrades; the
rest goes through without a reservation, and `reconcile()` counts it after promotion.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.clock import SYSTEM_CLOCK, Clock
from service.db.models import Budget, BudgetPeriod, BudgetReservation, UsageDaily
from service.db.session import insert_for
from service.errors import BudgetExceeded, NotFound, ValidationFailed
from service.observability import metrics
from service.translation.engine import Caller
from service.translation.providers.base import Provider
from service.usage.recorder import TRANSIENT
from service.usage.rollup import from_nanos, to_nanos

log = logging.getLogger(__name__)

SCOPES = ("workspace", "channel", "user")
MAX_LIMIT = Decimal(1_000_000_000)


def month_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date().replace(day=1)


def next_month(period: date) -> date:
    return (period.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(slots=True)
class Line:
    """One budget as the hot path sees it (a snapshot, adjusted locally between refreshes)."""

    id: uuid.UUID
    scope: str
    subject: str
    limit: int
    soft_ratio: float
    spent: int
    reserved: int

    def applies(self, caller: Caller) -> bool:
        if self.scope == "workspace":
            return True
        if self.scope == "channel":
            return caller.channel_id == self.subject
        return caller.user_id == self.subject

    @property
    def used(self) -> int:
        return self.spent + self.reserved

    @property
    def soft_reached(self) -> bool:
        return self.used >= self.limit * self.soft_ratio


@dataclass(slots=True)
class Snapshot:
    period: date
    lines: list[Line]
    loaded_at: float


@dataclass(frozen=True, slots=True)
class Hold:
    """What a reservation holds; `offline` when the database could not be asked."""

    budget_ids: tuple[uuid.UUID, ...] = ()
    period: date | None = None
    amount: int = 0
    hold_id: uuid.UUID | None = None
    offline: bool = False


NO_HOLD = Hold()


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget and its current month, for the admin API."""

    id: uuid.UUID
    scope: str
    subject: str | None
    monthly_limit: Decimal
    soft_limit_ratio: float
    period: str
    spent: Decimal
    reserved: Decimal
    remaining: Decimal
    utilisation: float
    status: str
    resets_at: datetime
    updated_at: datetime


@dataclass
class _Refused(Exception):
    line: Line
    estimate: int


@dataclass
class Budgets:
    sessions: async_sessionmaker[AsyncSession]
    cache_seconds: float = 5.0
    default_soft_ratio: float = 0.8
    reservation_ttl: float = 600.0
    retry_seconds: float = 5.0
    load_timeout: float = 1.0
    # Which month is "this month": the period every reservation and report is counted in.
    clock: Clock = SYSTEM_CLOCK
    read_only: Callable[[], bool] = lambda: False
    _snapshots: dict[uuid.UUID, Snapshot] = field(default_factory=dict)
    _loading: dict[uuid.UUID, asyncio.Task[Snapshot | None]] = field(default_factory=dict)
    _known_periods: set[tuple[uuid.UUID, date]] = field(default_factory=set)
    _down_until: float = 0.0
    needs_reconcile: bool = False

    # -- hot path ------------------------------------------------------------------------

    async def downgrade(self, caller: Caller) -> bool:
        """Whether a budget that applies to the caller has reached its soft limit."""
        snapshot = await self.snapshot(caller.workspace_id)
        if snapshot is None:
            return False
        soft = any(line.soft_reached for line in snapshot.lines if line.applies(caller))
        if soft:
            metrics.BUDGET_ENFORCEMENTS.labels(action="downgrade").inc()
        return soft

    def guard(self, caller: Caller) -> BudgetGuard:
        return BudgetGuard(self, caller)

    async def snapshot(self, workspace_id: uuid.UUID) -> Snapshot | None:
        """Budgets of a workspace with this month's spend; None if unknown (database down)."""
        now = time.monotonic()
        current = self._snapshots.get(workspace_id)
        fresh = current is not None and now - current.loaded_at < self.cache_seconds
        if current is not None and current.period != month_of(self.clock.now()):
            fresh, current = False, None
        if fresh:
            return current
        task = self._loading.get(workspace_id)
        if task is None:
            task = asyncio.create_task(self._load(workspace_id))
            self._loading[workspace_id] = task
            task.add_done_callback(lambda _: self._loading.pop(workspace_id, None))
        if current is not None:
            return current  # stale while it refreshes
        try:
            # A database that hangs must not hold translations up: unknown for now.
            async with asyncio.timeout(self.load_timeout):
                return await asyncio.shield(task)
        except TimeoutError:
            return None

    async def reserve(self, caller: Caller, provider: Provider, estimate: Decimal) -> Hold:
        snapshot = await self.snapshot(caller.workspace_id)
        if snapshot is None:
            self.needs_reconcile = True
            return Hold(offline=True)
        lines = sorted((ln for ln in snapshot.lines if ln.applies(caller)), key=lambda ln: ln.id)
        if not lines:
            return NO_HOLD
        if not provider.info.price_per_million_chars:
            estimate *= 2  # token-priced: the real cost is only known afterwards
        amount = to_nanos(estimate, up=True)
        ids = tuple(ln.id for ln in lines)
        if amount == 0:
            return Hold(budget_ids=ids, period=snapshot.period)
        if self.read_only():
            self.needs_reconcile = True
            for line in lines:
                if line.used + amount > line.limit:
                    metrics.BUDGET_ENFORCEMENTS.labels(action="reject").inc()
                    raise _exceeded(line, amount, snapshot.period)
            return Hold(offline=True)
        if time.monotonic() < self._down_until:
            self.needs_reconcile = True
            return Hold(offline=True)
        hold = Hold(budget_ids=ids, period=snapshot.period, amount=amount, hold_id=uuid.uuid4())
        try:
            async with self.sessions.begin() as session:
                ensured = await self._ensure_periods(session, ids, snapshot.period)
                for line in lines:
                    if not await self._hold(session, line, snapshot.period, amount):
                        raise _Refused(line, amount)
                session.add_all(
                    BudgetReservation(
                        hold_id=hold.hold_id,
                        budget_id=budget_id,
                        period=snapshot.period,
                        amount_nanos=amount,
                        created_at=self.clock.now(),
                    )
                    for budget_id in ids
                )
        except _Refused as refused:
            self._invalidate(caller.workspace_id)
            metrics.BUDGET_ENFORCEMENTS.labels(action="reject").inc()
            raise _exceeded(refused.line, refused.estimate, snapshot.period) from None
        except TRANSIENT as exc:
            self._went_down(exc)
            return Hold(offline=True)
        self._known_periods.update(ensured)
        for line in lines:
            line.reserved += amount
        return hold

    async def settle(self, hold: Hold, actual: Decimal) -> None:
        """Swap the held estimate for the actual cost; never raises (the call succeeded)."""
        if not hold.budget_ids and not hold.offline:
            return
        if hold.offline:
            return  # the ledger carries the cost; reconcile() counts it
        spent = to_nanos(actual)
        if spent == 0 and hold.amount == 0:
            return
        assert hold.period is not None
        ensured: list[tuple[uuid.UUID, date]] = []
        try:
            async with asyncio.timeout(5), self.sessions.begin() as session:
                held: dict[uuid.UUID, int] = {}
                if hold.hold_id is not None:
                    released = await session.execute(
                        sa.delete(BudgetReservation)
                        .where(BudgetReservation.hold_id == hold.hold_id)
                        .returning(BudgetReservation.budget_id, BudgetReservation.amount_nanos)
                    )
                    held = dict(released.all())
                else:
                    ensured = await self._ensure_periods(session, hold.budget_ids, hold.period)
                for budget_id in hold.budget_ids:
                    await session.execute(
                        sa.update(BudgetPeriod)
                        .where(
                            BudgetPeriod.budget_id == budget_id,
                            BudgetPeriod.period == hold.period,
                        )
                        .values(
                            reserved_nanos=BudgetPeriod.reserved_nanos - held.get(budget_id, 0),
                            spent_nanos=BudgetPeriod.spent_nanos + spent,
                        )
                    )
        except TRANSIENT as exc:
            # The reservation stays until the maintenance job releases it; the ledger has
            # the cost, and reconcile() raises the spend to it.
            self.needs_reconcile = True
            self._went_down(exc)
            return
        self._known_periods.update(ensured)
        for snapshot in self._snapshots.values():
            for line in snapshot.lines:
                if line.id in hold.budget_ids and snapshot.period == hold.period:
                    line.reserved = max(0, line.reserved - hold.amount)
                    line.spent += spent

    # -- admin ---------------------------------------------------------------------------

    async def all(self, workspace_id: uuid.UUID) -> list[BudgetState]:
        async with self.sessions() as session:
            return await self._states(session, workspace_id)

    async def get(self, workspace_id: uuid.UUID, budget_id: uuid.UUID) -> BudgetState:
        async with self.sessions() as session:
            states = await self._states(session, workspace_id, budget_id)
        if not states:
            raise NotFound(f"no budget {budget_id} in this workspace")
        return states[0]

    async def put(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        *,
        scope: str,
        subject: str | None,
        monthly_limit: Decimal,
        soft_limit_ratio: float | None,
    ) -> tuple[Budget | None, Budget]:
        """Create or replace the budget of (scope, subject); returns (before, after) rows."""
        subject_key = _check(scope, subject, monthly_limit, soft_limit_ratio)
        row = await session.scalar(
            sa.select(Budget).where(
                Budget.workspace_id == workspace_id,
                Budget.scope == scope,
                Budget.subject == subject_key,
            )
        )
        before = None if row is None else _copy(row)
        if row is None:
            row = Budget(
                id=uuid.uuid4(),
                workspace_id=workspace_id,
                scope=scope,
                subject=subject_key,
                soft_limit_ratio=self.default_soft_ratio,
            )
            session.add(row)
        row.limit_nanos = to_nanos(monthly_limit)
        if soft_limit_ratio is not None:
            row.soft_limit_ratio = soft_limit_ratio
        row.updated_at = self.clock.now()
        await session.flush()
        period = month_of(self.clock.now())
        if before is None:
            # The month's spend so far counts against a budget set mid-month.
            await self._ensure_periods(session, (row.id,), period)
            await session.execute(
                sa.update(BudgetPeriod)
                .where(BudgetPeriod.budget_id == row.id, BudgetPeriod.period == period)
                .values(spent_nanos=await self._ledger_spend(session, row, period))
            )
        self._invalidate(workspace_id)
        return before, row

    async def delete(
        self, session: AsyncSession, workspace_id: uuid.UUID, budget_id: uuid.UUID
    ) -> Budget:
        row = await session.scalar(
            sa.select(Budget).where(Budget.id == budget_id, Budget.workspace_id == workspace_id)
        )
        if row is None:
            raise NotFound(f"no budget {budget_id} in this workspace")
        await session.delete(row)
        self._invalidate(workspace_id)
        return row

    def state_of(self, row: Budget, period_row: BudgetPeriod | None) -> BudgetState:
        period = month_of(self.clock.now())
        spent = period_row.spent_nanos if period_row else 0
        reserved = period_row.reserved_nanos if period_row else 0
        used = spent + reserved
        utilisation = used / row.limit_nanos if row.limit_nanos else (1.0 if used else 0.0)
        status = (
            "exhausted"
            if used >= row.limit_nanos
            else "soft_limit"
            if used >= row.limit_nanos * row.soft_limit_ratio
            else "ok"
        )
        return BudgetState(
            id=row.id,
            scope=row.scope,
            subject=row.subject or None,
            monthly_limit=from_nanos(row.limit_nanos),
            soft_limit_ratio=row.soft_limit_ratio,
            period=period.strftime("%Y-%m"),
            spent=from_nanos(spent),
            reserved=from_nanos(reserved),
            remaining=from_nanos(max(0, row.limit_nanos - used)),
            utilisation=round(utilisation, 6),
            status=status,
            resets_at=datetime.combine(next_month(period), datetime.min.time(), UTC),
            updated_at=row.updated_at,
        )

    # -- maintenance ---------------------------------------------------------------------

    async def consumption(self) -> dict[str, float]:
        """This month's spend over limit of every workspace-wide budget (for the gauge)."""
        period = month_of(self.clock.now())
        async with self.sessions() as session:
            rows = await session.execute(
                sa.select(Budget.workspace_id, Budget.limit_nanos, BudgetPeriod.spent_nanos)
                .outerjoin(
                    BudgetPeriod,
                    sa.and_(BudgetPeriod.budget_id == Budget.id, BudgetPeriod.period == period),
                )
                .where(Budget.scope == "workspace")
            )
            return {
                str(workspace_id): (spent or 0) / limit if limit > 0 else 0.0
                for workspace_id, limit, spent in rows
            }

    async def release_stale(self) -> int:
        """Release reservations of calls that never settled (a crashed process)."""
        cutoff = self.clock.now() - timedelta(seconds=self.reservation_ttl)
        async with self.sessions.begin() as session:
            released = (
                await session.execute(
                    sa.delete(BudgetReservation)
                    .where(BudgetReservation.created_at < cutoff)
                    .returning(
                        BudgetReservation.budget_id,
                        BudgetReservation.period,
                        BudgetReservation.amount_nanos,
                    )
                )
            ).all()
            for budget_id, period, amount in released:
                await session.execute(
                    sa.update(BudgetPeriod)
                    .where(BudgetPeriod.budget_id == budget_id, BudgetPeriod.period == period)
                    .values(
                        reserved_nanos=sa.case(
                            (
                                BudgetPeriod.reserved_nanos > amount,
                                BudgetPeriod.reserved_nanos - amount,
                            ),
                            else_=0,
                        )
                    )
                )
        if released:
            log.info("released %d stale budget reservation(s)", len(released))
            self._snapshots.clear()
        return len(released)

    async def reconcile(self) -> None:
        """Raise every budget's spend this month to at least what the ledger records."""
        period = month_of(self.clock.now())
        async with self.sessions.begin() as session:
            rows = (await session.scalars(sa.select(Budget))).all()
            await self._ensure_periods(session, tuple(r.id for r in rows), period)
            for row in rows:
                ledger = await self._ledger_spend(session, row, period)
                await session.execute(
                    sa.update(BudgetPeriod)
                    .where(
                        BudgetPeriod.budget_id == row.id,
                        BudgetPeriod.period == period,
                        BudgetPeriod.spent_nanos < ledger,
                    )
                    .values(spent_nanos=ledger)
                )
        self.needs_reconcile = False
        self._snapshots.clear()

    # -- internals -----------------------------------------------------------------------

    async def _load(self, workspace_id: uuid.UUID) -> Snapshot | None:
        if time.monotonic() < self._down_until:
            return self._snapshots.get(workspace_id)
        period = month_of(self.clock.now())
        try:
            async with self.sessions() as session:
                rows = (
                    await session.execute(
                        sa.select(Budget, BudgetPeriod)
                        .outerjoin(
                            BudgetPeriod,
                            sa.and_(
                                BudgetPeriod.budget_id == Budget.id, BudgetPeriod.period == period
                            ),
                        )
                        .where(Budget.workspace_id == workspace_id)
                    )
                ).all()
        except TRANSIENT as exc:
            self._went_down(exc)
            return self._snapshots.get(workspace_id)
        snapshot = Snapshot(
            period=period,
            lines=[
                Line(
                    id=b.id,
                    scope=b.scope,
                    subject=b.subject,
                    limit=b.limit_nanos,
                    soft_ratio=b.soft_limit_ratio,
                    spent=p.spent_nanos if p else 0,
                    reserved=p.reserved_nanos if p else 0,
                )
                for b, p in rows
            ],
            loaded_at=time.monotonic(),
        )
        self._snapshots[workspace_id] = snapshot
        return snapshot

    async def _ensure_periods(
        self, session: AsyncSession, budget_ids: Sequence[uuid.UUID], period: date
    ) -> list[tuple[uuid.UUID, date]]:
        """Create missing period rows; returns them, to remember once the transaction commits."""
        missing = [b for b in budget_ids if (b, period) not in self._known_periods]
        if not missing:
            return []
        await session.execute(
            insert_for(session)(BudgetPeriod)
            .values(
                [
                    {"budget_id": b, "period": period, "spent_nanos": 0, "reserved_nanos": 0}
                    for b in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["budget_id", "period"])
        )
        return [(b, period) for b in missing]

    async def _hold(self, session: AsyncSession, line: Line, period: date, amount: int) -> bool:
        limit = sa.select(Budget.limit_nanos).where(Budget.id == line.id).scalar_subquery()
        result = await session.execute(
            sa.update(BudgetPeriod)
            .where(
                BudgetPeriod.budget_id == line.id,
                BudgetPeriod.period == period,
                BudgetPeriod.spent_nanos + BudgetPeriod.reserved_nanos + amount <= limit,
            )
            .values(reserved_nanos=BudgetPeriod.reserved_nanos + amount)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def _ledger_spend(self, session: AsyncSession, row: Budget, period: date) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(UsageDaily.cost_nanos), 0)).where(
            UsageDaily.workspace_id == row.workspace_id,
            UsageDaily.day >= period,
            UsageDaily.day < next_month(period),
        )
        if row.scope == "channel":
            query = query.where(UsageDaily.channel_id == row.subject)
        elif row.scope == "user":
            query = query.where(UsageDaily.user_id == row.subject)
        return int(await session.scalar(query) or 0)

    async def _states(
        self, session: AsyncSession, workspace_id: uuid.UUID, budget_id: uuid.UUID | None = None
    ) -> list[BudgetState]:
        period = month_of(self.clock.now())
        query = (
            sa.select(Budget, BudgetPeriod)
            .outerjoin(
                BudgetPeriod,
                sa.and_(BudgetPeriod.budget_id == Budget.id, BudgetPeriod.period == period),
            )
            .where(Budget.workspace_id == workspace_id)
            .order_by(Budget.scope, Budget.subject)
        )
        if budget_id is not None:
            query = query.where(Budget.id == budget_id)
        return [self.state_of(b, p) for b, p in (await session.execute(query)).all()]

    def _invalidate(self, workspace_id: uuid.UUID) -> None:
        self._snapshots.pop(workspace_id, None)

    def _went_down(self, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            log.warning(
                "budgets unavailable (%s): translating without reservations for %.0fs",
                type(exc).__name__,
                self.retry_seconds,
            )
        self._down_until = time.monotonic() + self.retry_seconds


class BudgetGuard:
    """The engine's `SpendGuard` for one caller."""

    def __init__(self, budgets: Budgets, caller: Caller) -> None:
        self._budgets = budgets
        self._caller = caller

    async def reserve(self, provider: Provider, estimate: Decimal) -> object:
        return await self._budgets.reserve(self._caller, provider, estimate)

    async def settle(self, reservation: object, actual: Decimal) -> None:
        if isinstance(reservation, Hold):
            await self._budgets.settle(reservation, actual)


def _exceeded(line: Line, estimate: int, period: date) -> BudgetExceeded:
    who = {
        "workspace": "this workspace",
        "channel": f"channel {line.subject}",
        "user": f"user {line.subject}",
    }[line.scope]
    limit, used = from_nanos(line.limit), from_nanos(line.spent + line.reserved)
    resets = next_month(period).isoformat()
    return BudgetExceeded(
        f"the monthly budget of {who} (USD {limit.normalize():f}) does not cover this "
        f"translation: USD {used.normalize():f} is already spent or committed this month. "
        f"It resets on {resets}; an admin can raise it with PUT /api/v1/budgets.",
        details={
            "scope": line.scope,
            "subject": line.subject or None,
            "monthly_limit": str(limit),
            "estimate": str(from_nanos(estimate)),
            "resets_on": resets,
        },
    )


def _check(
    scope: str, subject: str | None, monthly_limit: Decimal, soft_ratio: float | None
) -> str:
    if scope not in SCOPES:
        raise ValidationFailed(
            f"scope: one of {', '.join(SCOPES)}", details={"field": "scope", "allowed": SCOPES}
        )
    if scope == "workspace":
        if subject:
            raise ValidationFailed(
                "subject: a workspace budget has no subject", details={"field": "subject"}
            )
        subject = ""
    elif not subject or len(subject) > 64:
        raise ValidationFailed(
            f"subject: the {scope} id (1 to 64 characters) is required",
            details={"field": "subject"},
        )
    if not monthly_limit.is_finite() or not Decimal(0) <= monthly_limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"monthly_limit: between 0 and {MAX_LIMIT} (USD)", details={"field": "monthly_limit"}
        )
    if soft_ratio is not None and not 0 < soft_ratio <= 1:
        raise ValidationFailed(
            "soft_limit_ratio: a fraction above 0 and at most 1 (e.g. 0.8)",
            details={"field": "soft_limit_ratio"},
        )
    return subject


def _copy(row: Budget) -> Budget:
    return Budget(
        id=row.id,
        workspace_id=row.workspace_id,
        scope=row.scope,
        subject=row.subject,
        limit_nanos=row.limit_nanos,
        soft_limit_ratio=row.soft_limit_ratio,
        updated_at=row.updated_at,
    )
