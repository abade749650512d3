"""The alert rules: valid for promtool, proven by its unit tests, and only about real metrics."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.monitoring import load_rules
from tests.observability.catalogue import (
    OPERATIONS_DOC,
    RULE_TESTS_DIR,
    RULES_DIR,
    known_series,
    metric_names,
    raw_counters,
)

SEVERITIES = {"critical", "warning", "info"}
RUNBOOK = re.compile(r"^docs/operations\.md#([a-z0-9-]+)$")
RULE_FILES = sorted(RULES_DIR.glob("*.yaml"))
TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.yaml"))


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        # In CI a missing promtool is a broken setup (.ci/run installs `prometheus`).
        if os.environ.get("CI"):
            pytest.fail("promtool is required in CI (Debian package `prometheus`)")
        pytest.skip("promtool is not installed (Debian package `prometheus`); CI requires it")
    return path


def alerts() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [(path, rule) for rule in group["rules"] if "alert" in rule]
    return found


def test_there_are_rule_files_and_test_files() -> None:
    assert len(RULE_FILES) >= 3 and len(TEST_FILES) >= 3
    assert len(alerts()) >= 25


def test_the_monitoring_component_loads_every_rule_file() -> None:
    assert set(load_rules(RULES_DIR)) == {p.stem for p in RULE_FILES}


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(path: Path) -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _cases() -> list[dict[str, Any]]:
    cases = []
    for path in TEST_FILES:
        doc = yaml.safe_load(path.read_text())
        for test in doc["tests"]:
            cases += test.get("alert_rule_test", [])
    return cases


def test_every_rule_file_is_unit_tested() -> None:
    tested: set[Path] = set()
    for path in TEST_FILES:
        doc = yaml.safe_load(path.read_text())
        tested |= {(path.parent / f).resolve() for f in doc["rule_files"]}
    assert {p.resolve() for p in RULE_FILES} <= tested


def test_every_alert_has_a_firing_case_for_each_severity_and_a_quiet_case() -> None:
    fired: set[tuple[str, str]] = set()
    quiet: set[str] = set()
    for case in _cases():
        if case["exp_alerts"]:
            fired |= {(case["alertname"], a["exp_labels"]["severity"]) for a in case["exp_alerts"]}
        else:
            quiet.add(case["alertname"])
    expected = {(rule["alert"], rule["labels"]["severity"]) for _, rule in alerts()}
    assert sorted(expected - fired) == [], "alerts never shown firing"
    assert sorted({name for name, _ in expected} - quiet) == [], "alerts never shown quiet"


def test_firing_cases_check_the_runbook_and_severity() -> None:
    for case in _cases():
        for alert in case["exp_alerts"]:
            assert alert["exp_labels"]["severity"] in SEVERITIES
            assert RUNBOOK.match(alert["exp_annotations"]["runbook_url"]), case["alertname"]


@pytest.mark.parametrize("rule", [r for _, r in alerts()], ids=lambda r: r["alert"])
def test_alert_is_labelled_annotated_and_waits_deliberately(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["labels"].get("component")
    assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
    assert RUNBOOK.match(rule["annotations"]["runbook_url"])
    assert re.fullmatch(r"\d+[mh]", rule.get("for", "")), "every alert needs a deliberate `for`"


def test_every_alert_explains_its_for_duration_in_a_comment() -> None:
    for path in RULE_FILES:
        blocks = re.split(r"^\s*- alert: ", path.read_text(), flags=re.MULTILINE)[1:]
        for block in blocks:
            head = block.split("for:")[0]
            assert "#" in head, f"{path.name}: {block.splitlines()[0]} has no comment on `for`"


@pytest.mark.parametrize("rule", [r for _, r in alerts()], ids=lambda r: r["alert"])
def test_alert_uses_only_exported_metrics_and_never_a_raw_counter(rule: dict[str, Any]) -> None:
    known = known_series()
    names = metric_names(rule["expr"])
    assert names, rule["expr"]
    assert sorted(names - set(known)) == [], "metrics no exporter provides"
    assert raw_counters(rule["expr"], known) == []


def runbook_anchors() -> set[str]:
    urls = {rule["annotations"]["runbook_url"] for _, rule in alerts()}
    return {url.partition("#")[2] for url in urls}


def github_anchors(markdown: str) -> set[str]:
    anchors = set(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", markdown))
    anchors |= set(re.findall(r"\{#([A-Za-z0-9_-]+)\}", markdown))
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", markdown, flags=re.MULTILINE):
        text = re.sub(r"\{#[^}]*\}|<[^>]+>|`", "", heading).strip().lower()
        anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def test_every_runbook_anchor_exists_in_the_operations_guide() -> None:
    assert OPERATIONS_DOC.is_file(), (
        f"docs/operations.md is missing; the alerts link to: {sorted(runbook_anchors())}"
    )
    missing = sorted(runbook_anchors() - github_anchors(OPERATIONS_DOC.read_text()))
    assert missing == [], f"docs/operations.md lacks these runbook sections: {missing}"


def test_anchor_slugs_follow_github() -> None:
    doc = "## Service down\n### Replica lag (RPO) {#replica-lag}\n<a id='backup-stale'></a>\n"
    assert {"service-down", "replica-lag", "backup-stale"} <= github_anchors(doc)
    assert github_anchors("## Cache hit-ratio collapse\n") == {"cache-hit-ratio-collapse"}
    assert github_anchors("## Route 53: health check failing\n") == {
        "route-53-health-check-failing"
    }
