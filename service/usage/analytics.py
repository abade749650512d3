"""Usage analytics for admins, read from the daily rollups (never from the raw events).

A query over any range is a grouped sum over at most (days x dimensions) rollup rows, so it
stays fast with millions of events. Percentiles come from the rollups' latency histogram (see
`rollup.percentile`). Definitions:
- translations: requests for one text into one language, cache hits included;
- cache hit ratio: cache hits / translations that needed translating (not same-language);
- error rate: failed translations / translations.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db.models import UsageDaily
from service.usage.rollup import LATENCY_COLUMNS, from_nanos, percentile

GROUPINGS = ("day", "user", "channel", "provider", "language_pair")
_SUMMED = (
    "requests",
    "cache_hits",
    "same_language",
    "errors",
    "characters",
    "input_tokens",
    "output_tokens",
    "cost_nanos",
    *LATENCY_COLUMNS,
)


@dataclass(frozen=True, slots=True)
class Figures:
    translations: int
    characters: int
    input_tokens: int
    output_tokens: int
    cost: Decimal
    cache_hits: int
    cache_hit_ratio: float | None
    errors: int
    error_rate: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None


@dataclass(frozen=True, slots=True)
class Group:
    key: str | None
    figures: Figures


@dataclass(frozen=True, slots=True)
class Report:
    start: date
    end: date
    group_by: str | None
    totals: Figures
    groups: list[Group]


def _dimensions(group_by: str | None) -> list[Any]:
    t = UsageDaily
    options: dict[str | None, list[Any]] = {
        None: [],
        "day": [t.day],
        "user": [t.user_id],
        "channel": [t.channel_id],
        "provider": [t.provider],
        "language_pair": [t.source_lang, t.target_lang],
    }
    return options[group_by]


async def report(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: uuid.UUID,
    *,
    start: date,
    end: date,
    group_by: str | None,
) -> Report:
    dims = _dimensions(group_by)
    sums = [sa.func.coalesce(sa.func.sum(getattr(UsageDaily, c)), 0).label(c) for c in _SUMMED]
    query = (
        sa.select(*dims, *sums)
        .where(
            UsageDaily.workspace_id == workspace_id,
            UsageDaily.day >= start,
            UsageDaily.day <= end,
        )
        .group_by(*dims)
        .order_by(*dims)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    groups: list[Group] = []
    totals = dict.fromkeys(_SUMMED, 0)
    for row in rows:
        values = {c: int(getattr(row, c)) for c in _SUMMED}
        if values["requests"] == 0:
            continue
        for c in _SUMMED:
            totals[c] += values[c]
        if dims:
            groups.append(Group(key=_key(group_by, row), figures=_figures(values)))
    return Report(start=start, end=end, group_by=group_by, totals=_figures(totals), groups=groups)


def _key(group_by: str | None, row: Any) -> str | None:
    if group_by == "day":
        return str(row.day.isoformat())
    if group_by == "language_pair":
        return f"{row.source_lang or 'und'}-{row.target_lang}"
    value = row[0]
    return str(value) if value else None  # '' is "none" (API keys, anonymised users)


def _figures(v: dict[str, int]) -> Figures:
    needing = v["requests"] - v["same_language"]
    hist = [v[c] for c in LATENCY_COLUMNS]
    return Figures(
        translations=v["requests"],
        characters=v["characters"],
        input_tokens=v["input_tokens"],
        output_tokens=v["output_tokens"],
        cost=from_nanos(v["cost_nanos"]),
        cache_hits=v["cache_hits"],
        cache_hit_ratio=round(v["cache_hits"] / needing, 4) if needing > 0 else None,
        errors=v["errors"],
        error_rate=round(v["errors"] / v["requests"], 4) if v["requests"] else None,
        p50_latency_ms=percentile(hist, 0.50),
        p95_latency_ms=percentile(hist, 0.95),
    )


CSV_COLUMNS = (
    "key",
    "translations",
    "characters",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cache_hits",
    "cache_hit_ratio",
    "errors",
    "error_rate",
    "p50_latency_ms",
    "p95_latency_ms",
)


def to_csv(result: Report) -> str:
    """One row per group (or one `total` row without grouping)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((result.group_by or "total", *CSV_COLUMNS[1:]))
    rows: Sequence[Group] = result.groups if result.group_by else [Group("total", result.totals)]
    for group in rows:
        f = group.figures
        writer.writerow(
            (
                _safe(group.key),
                f.translations,
                f.characters,
                f.input_tokens,
                f.output_tokens,
                f"{f.cost:f}",
                f.cache_hits,
                "" if f.cache_hit_ratio is None else f.cache_hit_ratio,
                f.errors,
                "" if f.error_rate is None else f.error_rate,
                "" if f.p50_latency_ms is None else f.p50_latency_ms,
                "" if f.p95_latency_ms is None else f.p95_latency_ms,
            )
        )
    return out.getvalue()


def _safe(value: str | None) -> str:
    # Ids come from chat users: never let a spreadsheet read one as a formula.
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
