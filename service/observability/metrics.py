"""The Prometheus metrics the service exports (catalogue in docs/metrics.md).

Labels are bounded: route templates (never raw paths), provider names, outcomes, language
codes from the fixed language table, status classes. Never user ids, keys or message text.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

BUILD_INFO = Gauge(
    "utp_build_info",
    "Always 1; the labels say which package version and release this process runs.",
    ["version", "release"],
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "utp_http_requests",
    "HTTP requests handled, by route template, method and status class.",
    ["route", "method", "status_class"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "utp_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
TRANSLATIONS = Counter(
    "utp_translations",
    "Translated texts by provider, outcome and language pair.",
    ["provider", "outcome", "source", "target"],
    registry=REGISTRY,
)
PROVIDER_LATENCY = Histogram(
    "utp_provider_request_duration_seconds",
    "Latency of calls to translation providers.",
    ["provider"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
PROVIDER_ERRORS = Counter(
    "utp_provider_errors",
    "Failed provider calls by kind: transient, terminal, timeout, rejected, markup.",
    ["provider", "kind"],
    registry=REGISTRY,
)
BREAKER_STATE = Gauge(
    "utp_provider_breaker_state",
    "Circuit breaker state per provider: 0 closed, 1 half-open, 2 open, 3 parked (terminal).",
    ["provider"],
    registry=REGISTRY,
)
CACHE_LOOKUPS = Counter(
    "utp_cache_lookups",
    "Translation cache lookups by tier (memory, redis, database) and result (hit, miss).",
    ["tier", "result"],
    registry=REGISTRY,
)
SINGLEFLIGHT_COALESCED = Counter(
    "utp_singleflight_coalesced",
    "Requests that waited for an identical in-flight translation instead of calling a provider.",
    registry=REGISTRY,
)
USAGE_BUFFER_DEPTH = Gauge(
    "utp_usage_buffer_depth",
    "Usage events waiting to be written to the database.",
    registry=REGISTRY,
)
USAGE_BUFFER_OLDEST_AGE = Gauge(
    "utp_usage_buffer_oldest_age_seconds",
    "Age of the oldest usage event waiting to be written.",
    registry=REGISTRY,
)
DATABASE_ROLE = Gauge(
    "utp_database_role",
    "1 for the role of the database this process writes to: primary (read-write) or replica "
    "(read-only until promoted; writes answered 503 read_only_region), 0 for the other.",
    ["role"],
    registry=REGISTRY,
)
USAGE_WRITE_FAILURES = Counter(
    "utp_usage_write_failures",
    "Failed attempts to write usage events to the database (they are retried).",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "utp_dead_letters",
    "Rows the database refused for their content, set aside so the rest flows on "
    "(store: usage = the usage ledger's dead-letter table, translation_memory = dropped).",
    ["store"],
    registry=REGISTRY,
)

# -- cost, budgets and rate limits (wired by the usage work: service/usage/**) ---------------

TRANSLATION_COST = Counter(
    "utp_translation_cost_usd",
    "Provider cost of translated texts in US dollars, by provider (cache hits cost nothing).",
    ["provider"],
    registry=REGISTRY,
)
TRANSLATION_CHARACTERS = Counter(
    "utp_translation_characters",
    "Characters sent to providers, by provider (cache hits excluded).",
    ["provider"],
    registry=REGISTRY,
)
BUDGET_TOP_N = 20
BUDGET_CONSUMPTION = Gauge(
    "utp_budget_consumption_ratio",
    "Share of the monthly budget spent (1 = hard limit reached), for the workspaces with a "
    f"budget that are nearest their limit (at most {BUDGET_TOP_N}); `workspace` is a keyed "
    "pseudonym (`utp workspaces list` shows each workspace's).",
    ["workspace"],
    registry=REGISTRY,
)
BUDGET_ENFORCEMENTS = Counter(
    "utp_budget_enforcements",
    "Requests changed by a budget: downgrade (soft limit, cheaper provider) or reject (hard "
    "limit, 402).",
    ["action"],
    registry=REGISTRY,
)
RATE_LIMIT_REJECTIONS = Counter(
    "utp_rate_limit_rejections",
    "Requests refused with 429 by a rate limit, by scope: api_key, user or channel.",
    ["scope"],
    registry=REGISTRY,
)
DB_QUERY_LATENCY = Histogram(
    "utp_db_query_duration_seconds",
    "Database statement latency by operation: select, insert, update, delete or other.",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)

_OPERATIONS = frozenset({"select", "insert", "update", "delete"})


def workspace_label(secret_key: str, workspace_id: object) -> str:
    """The `workspace` label of a workspace: a keyed pseudonym, not its id or name, because
    /metrics is scraped in plain text and must not list tenants with their spending.
    `utp workspaces list` shows each workspace's label; replicas sharing UTP_SECRET_KEY agree."""
    key = hashlib.sha256(b"utp-metrics-label:" + secret_key.encode()).digest()
    return "ws-" + hmac.new(key, str(workspace_id).encode(), hashlib.sha256).hexdigest()[:12]


def publish_budget_consumption(ratios: Mapping[str, float], top_n: int = BUDGET_TOP_N) -> None:
    """Replace the per-workspace budget gauge with the `top_n` workspaces nearest their limit.

    `ratios` maps a workspace's label (`workspace_label`) to spent / monthly limit, for
    workspaces that have a budget. Keeping only the top N bounds the series however many
    workspaces exist; the alerts care about the ones near or over their limit, which are
    exactly those kept.
    """
    top = sorted(ratios.items(), key=lambda item: item[1], reverse=True)[:top_n]
    BUDGET_CONSUMPTION.clear()
    for workspace, ratio in top:
        BUDGET_CONSUMPTION.labels(workspace=workspace).set(ratio)


def statement_operation(statement: str) -> str:
    """The bounded `operation` label for a SQL statement (its leading keyword)."""
    head = statement.lstrip().split(None, 1)
    verb = head[0].lower() if head else ""
    return verb if verb in _OPERATIONS else "other"


def instrument_engine(engine: AsyncEngine | Engine) -> None:
    """Observe every statement the engine runs into `utp_db_query_duration_seconds`."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _started(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        conn.info.setdefault("utp_query_started", []).append(time.perf_counter())

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _finished(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        started: list[float] = conn.info.get("utp_query_started", [])
        if started:
            DB_QUERY_LATENCY.labels(operation=statement_operation(statement)).observe(
                time.perf_counter() - started.pop()
            )

    @event.listens_for(sync_engine, "handle_error")
    def _failed(context: ExceptionContext) -> None:
        # A failed statement never reaches after_cursor_execute: drop its start time.
        started = context.connection.info.get("utp_query_started") if context.connection else None
        if started:
            started.pop()
