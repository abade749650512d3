"""docs/metrics.md and service/observability/metrics.py describe the same metrics."""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from service.observability import metrics
from tests.observability.catalogue import (
    code_metrics,
    documented_exporter_metrics,
    documented_service_metrics,
    registered_names,
)

# Label names that would make the series unbounded (user ids, raw paths, message text).
UNBOUNDED = {"user", "user_id", "path", "url", "text", "message", "key", "api_key", "request_id"}


def test_every_metric_in_the_code_is_documented_and_every_documented_one_exists() -> None:
    code = code_metrics()
    documented = documented_service_metrics()
    assert sorted(set(code) - set(documented)) == [], "exported but not in docs/metrics.md"
    assert sorted(set(documented) - set(code)) == [], "in docs/metrics.md but not exported"
    for name, metric in code.items():
        assert documented[name].type == metric.type, name
        assert sorted(documented[name].labels) == sorted(metric.labels), name


def test_every_metric_object_is_registered_in_the_exported_registry() -> None:
    assert set(code_metrics()) == registered_names()


def test_labels_are_bounded() -> None:
    for metric in code_metrics().values():
        assert not UNBOUNDED & set(metric.labels), metric.name


def test_exporter_section_does_not_shadow_service_metrics() -> None:
    exporters = documented_exporter_metrics()
    assert len(exporters) > 20
    assert not set(exporters) & set(code_metrics())
    assert {"up", "pg_up", "redis_up", "kube_pod_container_status_waiting_reason"} <= set(exporters)


def test_budget_gauge_keeps_only_the_workspaces_nearest_their_limit() -> None:
    ratios = {f"ws-{i}": i / 100 for i in range(100)}
    metrics.publish_budget_consumption(ratios, top_n=3)
    samples = {
        s.labels["workspace"]: s.value
        for f in text_string_to_metric_families(generate_latest(metrics.REGISTRY).decode())
        if f.name == "utp_budget_consumption_ratio"
        for s in f.samples
    }
    assert samples == {"ws-99": 0.99, "ws-98": 0.98, "ws-97": 0.97}
    metrics.publish_budget_consumption({"ws-1": 1.2})
    assert metrics.BUDGET_CONSUMPTION.labels(workspace="ws-1")._value.get() == 1.2
    metrics.BUDGET_CONSUMPTION.clear()


def test_instrumented_engine_observes_statements_by_operation() -> None:
    engine = sa.create_engine("sqlite://")
    metrics.instrument_engine(engine)

    def count(operation: str) -> float:
        value = metrics.REGISTRY.get_sample_value(
            "utp_db_query_duration_seconds_count", {"operation": operation}
        )
        return value or 0.0

    before = {op: count(op) for op in ("select", "insert", "other")}
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        conn.execute(sa.text("  select x from t"))
        with contextlib.suppress(sa.exc.OperationalError):
            conn.execute(sa.text("SELECT nope FROM missing"))
        conn.execute(sa.text("SELECT 1"))
    assert count("insert") - before["insert"] == 1
    assert count("select") - before["select"] == 2  # the failed one is not observed
    assert count("other") - before["other"] >= 1
    engine.dispose()


def test_statement_operation_is_bounded() -> None:
    assert metrics.statement_operation("\n  UPDATE x SET y = 1") == "update"
    assert metrics.statement_operation("WITH a AS (SELECT 1) SELECT * FROM a") == "other"
    assert metrics.statement_operation("") == "other"
