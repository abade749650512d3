"""Whether the database takes writes: the service's role in its region, asked, never configured.

In the DR region the service runs against a cross-region read replica until someone promotes
it. PostgreSQL knows which it is: `pg_is_in_recovery()` is true on a streaming replica and
false once promoted; a primary fenced with `default_transaction_read_only` refuses writes too.
So the role is asked of the database every `interval` seconds (and on every readiness probe),
and a write the database refuses as read-only (SQLSTATE 25006) switches to "replica" at once:
promotion switches the service to read-write within one interval, with no restart and nothing
to configure. Everything else reads `read_only`, a plain attribute, so the hot path never waits.

SQLite (the embedded default) is always the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Final, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.errors import ReadOnlyRegion
from service.observability import metrics

log = logging.getLogger(__name__)

Role = Literal["primary", "replica"]
ROLES: Final[tuple[Role, ...]] = ("primary", "replica")
# read_only_sql_transaction: "cannot execute INSERT in a read-only transaction".
READ_ONLY_SQLSTATE: Final = "25006"
CHECK_SECONDS: Final = 5.0
# What a refused write tells the client to wait: about what a promotion takes (the RDS replica
# promotion is minutes), not the check interval, so clients do not hammer a replica.
RETRY_AFTER_SECONDS: Final = 30
_QUERY: Final = sa.text(
    "SELECT pg_is_in_recovery() OR current_setting('default_transaction_read_only') = 'on'"
)


def refuses_writes(exc: BaseException) -> bool:
    """Whether `exc` is the database refusing a write because it is read-only (SQLSTATE 25006)."""
    seen: BaseException | None = exc
    for _ in range(4):  # the SQLAlchemy error, the adapted driver error, asyncpg's own
        if seen is None:
            return False
        sqlstate = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if sqlstate == READ_ONLY_SQLSTATE:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def read_only_region(what: str = "this change") -> ReadOnlyRegion:
    """The one answer to a write on a replica (the error envelope's 503 `read_only_region`)."""
    return ReadOnlyRegion(
        f"{what} is not possible now: this region's database is a read-only replica until it "
        "is promoted (disaster recovery); translations are still served",
        code="read_only_region",
        details={"role": "replica"},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@contextlib.contextmanager
def unless_read_only(what: str) -> Iterator[None]:
    """Skip a best-effort write (a note the next write will make again) on a replica."""
    try:
        yield
    except DBAPIError as exc:
        if not refuses_writes(exc):
            raise
        log.debug("%s not written: the database is a read-only replica", what)


class DatabaseRole:
    """The one place that decides whether this process may write to its database."""

    def __init__(self, engine: AsyncEngine, *, interval: float = CHECK_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._asks = engine.dialect.name == "postgresql"
        self._task: asyncio.Task[None] | None = None
        self.role: Role = "primary"
        self._publish()
        if self._asks:
            event.listen(engine.sync_engine, "handle_error", self._on_error)

    @property
    def read_only(self) -> bool:
        return self.role == "replica"

    async def check(self) -> Role:
        """Ask the database now; raises what the driver raises when it cannot be reached (so
        the readiness probe uses this as its database check)."""
        async with self._engine.connect() as conn:
            replica = bool(await conn.scalar(_QUERY if self._asks else sa.text("SELECT 0")))
        self._set("replica" if replica else "primary")
        return self.role

    def start(self) -> None:
        if self._asks and self._task is None:
            self._task = asyncio.create_task(self._run(), name="database-role")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._asks:
            event.remove(self._engine.sync_engine, "handle_error", self._on_error)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                # Unreachable is not a role: the last one known stands (readiness reports it).
                log.debug("database role not checked: %s", type(exc).__name__)

    def _on_error(self, context: ExceptionContext) -> None:
        if refuses_writes(context.original_exception):
            self._set("replica")

    def _set(self, role: Role) -> None:
        if role == self.role:
            return
        log.warning(
            "database role: %s -> %s (%s)",
            self.role,
            role,
            "writes refused until promotion; usage events wait in the outbox"
            if role == "replica"
            else "writes accepted; the outbox drains",
        )
        self.role = role
        self._publish()

    def _publish(self) -> None:
        for role in ROLES:
            metrics.DATABASE_ROLE.labels(role=role).set(1 if role == self.role else 0)
