"""Alertmanager routing built from receiver secrets: where each severity goes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.monitoring_config import (
    CRITICAL_RECEIVER,
    NULL_RECEIVER,
    WARNING_RECEIVER,
    AlertReceivers,
    alertmanager_config,
    alertmanager_yaml,
)

WEBHOOK = "https://hooks.slack.com/services/T000/B000/not-a-real-secret"
RECEIVERS = AlertReceivers(
    slack_webhook_url=WEBHOOK,
    pagerduty_routing_key="pd-routing-key-123",
    runbook_base_url="https://git.example.org/utp/blob/main/",
)


def receiver(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in config["receivers"] if r["name"] == name)


def route_for(config: dict[str, Any], labels: dict[str, str]) -> str:
    """First matching child route (none of ours sets `continue`), as Alertmanager picks it."""
    for route in config["route"]["routes"]:
        ok = True
        for matcher in route["matchers"]:
            name, op, value = matcher.split(" ", 2)
            value = value.strip('"')
            actual = labels.get(name, "")
            if op == "=":
                ok &= actual == value
            else:
                ok &= re.fullmatch(value, actual) is not None
        if ok:
            return str(route["receiver"])
    return str(config["route"]["receiver"])


def test_severities_route_to_pager_slack_and_nowhere() -> None:
    config = alertmanager_config(RECEIVERS)
    assert route_for(config, {"severity": "critical"}) == CRITICAL_RECEIVER
    assert route_for(config, {"severity": "warning"}) == WARNING_RECEIVER
    assert route_for(config, {"severity": "info"}) == NULL_RECEIVER
    assert route_for(config, {"alertname": "Watchdog", "severity": "none"}) == NULL_RECEIVER
    critical = receiver(config, CRITICAL_RECEIVER)
    assert critical["pagerduty_configs"][0]["routing_key"] == "pd-routing-key-123"
    assert critical["slack_configs"][0]["channel"] == "#utp-incidents"
    assert receiver(config, WARNING_RECEIVER)["slack_configs"][0]["channel"] == "#utp-alerts"
    assert "pagerduty_configs" not in receiver(config, WARNING_RECEIVER)
    assert set(receiver(config, NULL_RECEIVER)) == {"name"}


def test_secrets_come_from_the_arguments_and_the_pager_is_optional() -> None:
    config = alertmanager_config(AlertReceivers(slack_webhook_url=WEBHOOK))
    assert "pagerduty_configs" not in receiver(config, CRITICAL_RECEIVER)
    assert WEBHOOK in alertmanager_yaml(RECEIVERS)
    with pytest.raises(ValueError, match="https"):
        AlertReceivers(slack_webhook_url="http://hooks.slack.com/x")


def test_criticals_inhibit_warnings_of_the_same_component_and_grouping_is_bounded() -> None:
    config = alertmanager_config(RECEIVERS)
    first = config["inhibit_rules"][0]
    assert 'severity = "critical"' in first["source_matchers"]
    assert first["target_matchers"] == ['severity =~ "warning|info"']
    assert set(first["equal"]) == {"cluster", "component"}
    assert config["route"]["group_by"] == ["alertname", "cluster", "component"]


def test_slack_text_links_the_runbook_under_the_base_url() -> None:
    text = receiver(alertmanager_config(RECEIVERS), WARNING_RECEIVER)["slack_configs"][0]["text"]
    assert "https://git.example.org/utp/blob/main/{{ .Annotations.runbook_url }}" in text


def test_amtool_accepts_the_config_and_routes_like_we_think(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed (Debian package prometheus-alertmanager)")
    path = tmp_path / "alertmanager.yaml"
    path.write_text(alertmanager_yaml(RECEIVERS))
    check = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    for labels, expected in [
        (["severity=critical", "component=database"], CRITICAL_RECEIVER),
        (["severity=warning"], WARNING_RECEIVER),
        (["severity=info"], NULL_RECEIVER),
    ]:
        routed = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={path}", *labels],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert routed.stdout.strip() == expected, routed.stdout + routed.stderr
    assert yaml.safe_load(path.read_text()) == alertmanager_config(RECEIVERS)
