"""Grafana dashboards: valid models whose every Prometheus query uses metrics that exist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.monitoring import load_dashboards
from tests.observability.catalogue import (
    DASHBOARDS_DIR,
    MONITORING,
    known_series,
    metric_names,
    raw_counters,
)

DASHBOARDS = sorted(DASHBOARDS_DIR.glob("*.json"))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found += panel.get("panels", [])  # collapsed rows keep their panels inside
    return found


def prometheus_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    queries = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource") or {}
            if datasource.get("type", "prometheus") == "prometheus":
                queries.append((panel["title"], target["expr"]))
    return queries


def test_the_four_dashboards_exist_and_load_as_the_component_loads_them() -> None:
    assert {p.stem for p in DASHBOARDS} == {"application", "infrastructure", "database", "backups"}
    assert set(load_dashboards(DASHBOARDS_DIR)) == {p.stem for p in DASHBOARDS}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_model_is_sound(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"].startswith("utp-") and dashboard["title"].startswith("UTP / ")
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert prometheus_queries(dashboard)
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        for target in panel.get("targets", []):
            assert target["expr"].strip() and target["refId"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_query_uses_exported_metrics(path: Path) -> None:
    known = known_series()
    for title, expr in prometheus_queries(json.loads(path.read_text())):
        names = metric_names(expr)
        assert names, f"{title}: no metric in {expr}"
        assert sorted(names - set(known)) == [], f"{title}: {expr}"
        assert raw_counters(expr, known) == [], f"{title}: counter without rate/increase"


def test_application_dashboard_has_the_issue_panels() -> None:
    dashboard = json.loads((DASHBOARDS_DIR / "application.json").read_text())
    used = set().union(*(metric_names(e) for _, e in prometheus_queries(dashboard)))
    assert {
        "utp_http_requests_total",
        "utp_http_request_duration_seconds_bucket",
        "utp_translations_total",
        "utp_cache_lookups_total",
        "utp_translation_cost_usd_total",
    } <= used


def test_logs_panel_uses_the_loki_datasource_that_grafana_is_given() -> None:
    dashboard = json.loads((DASHBOARDS_DIR / "application.json").read_text())
    logs = [p for p in panels(dashboard) if p["type"] == "logs"]
    assert logs
    datasource = yaml.safe_load((MONITORING / "logging.yaml").read_text())["grafana"]["datasource"]
    for panel in logs:
        assert panel["datasource"] == {"type": "loki", "uid": datasource["uid"]}
        assert "$request_id" in panel["targets"][0]["expr"]


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{route!~"/x|y", le="+Inf"}'
        "[$__rate_interval]))) > 2 and on () sum(b_total offset 1d) / c * 1e9 "
        'or absent(d) unless time() - max(e{type=~"x|"}[5m:1m])'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d", "e"}
    assert raw_counters(expr, {"a_bucket": "counter", "b_total": "counter"}) == ["b_total"]
    assert raw_counters("sum by (x) (increase(b_total[1h]))", {"b_total": "counter"}) == []
