"""Daily rollups of usage events, and the statements that write events and rollups.

Percentiles come from a fixed-bucket latency histogram (`LATENCY_BUCKETS_MS`), interpolated
linearly inside the bucket: an estimate whose error is bounded by the bucket's width, which is
what makes p50/p95 over millions of events a sum over a few rows instead of a sort.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from service.db.models import LATENCY_BUCKETS_MS, UsageDaily, UsageEvent
from service.db.session import insert_for, insert_of

NANOS = Decimal(1_000_000_000)
LATENCY_COLUMNS = tuple(f"lat_{i}" for i in range(len(LATENCY_BUCKETS_MS) + 1))
KEYS = ("workspace_id", "day", "user_id", "channel_id", "provider", "source_lang", "target_lang")
SUMS = (
    "requests",
    "cache_hits",
    "same_language",
    "errors",
    "characters",
    "input_tokens",
    "output_tokens",
    "cost_nanos",
    "latency_ms_sum",
    *LATENCY_COLUMNS,
)


def to_nanos(amount: Decimal, *, up: bool = False) -> int:
    """USD -> integer nano-dollars (rounded half up, or up for estimates we hold)."""
    return int((amount * NANOS).to_integral_value(ROUND_CEILING if up else ROUND_HALF_UP))


def from_nanos(nanos: int) -> Decimal:
    return (Decimal(nanos) / NANOS).quantize(Decimal("0.000000001"))


def bucket_of(latency_ms: float) -> int:
    return bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def aggregate(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Sum usage_events rows into usage_daily rows (one per day and dimension)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (
            r["workspace_id"],
            day_of(r["created_at"]),
            r["user_id"] or "",
            r["channel_id"] or "",
            r["provider"] or "",
            r["source_lang"] or "",
            r["target_lang"],
        )
        agg = out.get(key)
        if agg is None:
            agg = dict(zip(KEYS, key, strict=True))
            agg.update(dict.fromkeys(SUMS, 0))
            agg["latency_ms_sum"] = 0.0
            out[key] = agg
        agg["requests"] += 1
        agg["cache_hits"] += bool(r["cache_hit"])
        agg["same_language"] += r["outcome"] == "same_language"
        agg["errors"] += r["outcome"] == "error"
        agg["characters"] += r["characters"]
        agg["input_tokens"] += r["input_tokens"]
        agg["output_tokens"] += r["output_tokens"]
        agg["cost_nanos"] += to_nanos(r["cost"])
        agg["latency_ms_sum"] += float(r["latency_ms"])
        agg[LATENCY_COLUMNS[bucket_of(float(r["latency_ms"]))]] += 1
    return list(out.values())


async def insert_ignoring_duplicates(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]]
) -> set[Any]:
    """INSERT events, skipping ids already stored; the ids actually inserted.

    On PostgreSQL the rows go as one array per column into one `INSERT ... SELECT FROM
    unnest(...)`: the driver encodes arrays in C, where SQLAlchemy's "insertmanyvalues" spent
    Python time on every value of every row (the ledger flush was a tenth of a cached request's
    CPU). Elsewhere (SQLite) one statement compiled once takes the rows as executemany
    parameters; building `.values(rows)` instead compiled a new statement for every batch.
    """
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        columns = {name: [row[name] for row in rows] for name in _EVENT_COLUMNS}
        return set((await session.scalars(_UNNEST_INSERT, columns)).all())
    table = UsageEvent.__table__
    stmt: ReturningInsert[tuple[Any]] = (
        insert_for(session)(table)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(table.c.id)
    )
    return set((await session.scalars(stmt, list(rows))).all())


# One array per column, in the table's order (migration 0001).
_UNNEST_INSERT: Final = sa.text(
    """
    INSERT INTO usage_events (
        id, workspace_id, api_key_id, user_id, channel_id, provider, model, source_lang,
        target_lang, characters, input_tokens, output_tokens, cost, latency_ms, cache_hit,
        outcome, created_at
    )
    SELECT * FROM unnest(
        CAST(:id AS uuid[]), CAST(:workspace_id AS uuid[]), CAST(:api_key_id AS uuid[]),
        CAST(:user_id AS varchar[]), CAST(:channel_id AS varchar[]),
        CAST(:provider AS varchar[]), CAST(:model AS varchar[]),
        CAST(:source_lang AS varchar[]), CAST(:target_lang AS varchar[]),
        CAST(:characters AS int4[]), CAST(:input_tokens AS int4[]),
        CAST(:output_tokens AS int4[]), CAST(:cost AS numeric[]),
        CAST(:latency_ms AS float8[]), CAST(:cache_hit AS bool[]),
        CAST(:outcome AS varchar[]), CAST(:created_at AS timestamptz[])
    )
    ON CONFLICT (id) DO NOTHING
    RETURNING id
    """
)
_EVENT_COLUMNS: Final = (
    "id",
    "workspace_id",
    "api_key_id",
    "user_id",
    "channel_id",
    "provider",
    "model",
    "source_lang",
    "target_lang",
    "characters",
    "input_tokens",
    "output_tokens",
    "cost",
    "latency_ms",
    "cache_hit",
    "outcome",
    "created_at",
)


def upsert(session: AsyncSession, rows: Sequence[Mapping[str, Any]] | None = None) -> sa.Insert:
    """INSERT rollup rows, adding to the rows of the same day and dimension that exist.

    Without `rows`, they are given at execution (`session.execute(stmt, rows)`), as above; that
    statement is built once per dialect: every access to `excluded` builds a new alias of the
    table, and building it for every flush cost more CPU than the flush's database round trip.
    """
    dialect = session.get_bind().dialect.name
    if rows is None:
        return _prepared_upsert(dialect)
    return _upsert(dialect, list(rows))


@functools.lru_cache(maxsize=4)
def _prepared_upsert(dialect: str) -> sa.Insert:
    return _upsert(dialect, None)


def _upsert(dialect: str, rows: list[Mapping[str, Any]] | None) -> sa.Insert:
    table = UsageDaily.__table__
    stmt = insert_of(dialect)(table)
    if rows is not None:
        stmt = stmt.values(rows)
    excluded = stmt.excluded
    result: sa.Insert = stmt.on_conflict_do_update(
        index_elements=list(KEYS),
        set_={c: table.c[c] + excluded[c] for c in SUMS},
    )
    return result


def percentile(hist: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) of a LATENCY_BUCKETS_MS histogram, in ms; None when empty."""
    total = sum(hist)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(hist):
        if count and seen + count >= rank:
            low = LATENCY_BUCKETS_MS[i - 1] if i > 0 else 0.0
            # The open last bucket: report its lower bound rather than invent an upper one.
            high = LATENCY_BUCKETS_MS[i] if i < len(LATENCY_BUCKETS_MS) else low
            return round(low + (high - low) * (rank - seen) / count, 2)
        seen += count
    return float(LATENCY_BUCKETS_MS[-1])  # pragma: no cover - unreachable
