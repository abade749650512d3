"""The Prometheus metrics the service exports (catalogue in docs/metrics.md).

Labels are bounded: route templates (never raw paths), provider names, outcomes, language
codes from the fixed language table, status classes. Never user ids, keys or message text.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)

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
USAGE_WRITE_FAILURES = Counter(
    "utp_usage_write_failures",
    "Failed attempts to write usage events to the database (they are retried).",
    registry=REGISTRY,
)
