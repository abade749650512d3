"""Alertmanager routing for the utp alerts, built from the receivers' secrets.

critical -> the pager (PagerDuty Events v2, when a routing key is configured) and the incident
Slack channel; warning -> the alerts Slack channel; info (and anything without a severity) ->
nowhere, visible in Alertmanager and Grafana only. A critical alert silences the warnings and
infos of the same `component` in the same cluster; a warning silences the infos it explains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

NULL_RECEIVER = "null"
CRITICAL_RECEIVER = "critical"
WARNING_RECEIVER = "slack-warning"

# One notification per alert name, cluster and component: a budget alert for twenty
# workspaces is one message listing them, a database outage is not mixed with a provider one.
GROUP_BY = ["alertname", "cluster", "component"]

_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }} ({{ .CommonLabels.cluster }})"
)


@dataclass(frozen=True, kw_only=True)
class AlertReceivers:
    """Where notifications go; the URL and the key are secrets from the stack's config."""

    slack_webhook_url: str
    warning_channel: str = "#utp-alerts"
    critical_channel: str = "#utp-incidents"
    pagerduty_routing_key: str | None = None
    # Prefix for the rules' relative `runbook_url` (docs/operations.md#...), e.g. the
    # repository's blob URL on the default branch.
    runbook_base_url: str = ""

    def __post_init__(self) -> None:
        if not self.slack_webhook_url.startswith("https://"):
            raise ValueError("slack_webhook_url must be an https:// Slack incoming-webhook URL")


def _slack(receivers: AlertReceivers, channel: str) -> dict[str, Any]:
    base = receivers.runbook_base_url.rstrip("/")
    runbook = "{{ .Annotations.runbook_url }}"
    if base:
        runbook = f"{base}/{runbook}"
    text = (
        "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
        f"Runbook: {runbook}\n{{{{ end }}}}"
    )
    return {
        "api_url": receivers.slack_webhook_url,
        "channel": channel,
        "send_resolved": True,
        "title": _TITLE,
        "text": text,
    }


def alertmanager_config(receivers: AlertReceivers) -> dict[str, Any]:
    """The Alertmanager configuration (what `alertmanager.yaml` holds) as a dict."""
    critical: dict[str, Any] = {
        "name": CRITICAL_RECEIVER,
        "slack_configs": [_slack(receivers, receivers.critical_channel)],
    }
    if receivers.pagerduty_routing_key:
        critical["pagerduty_configs"] = [
            {
                "routing_key": receivers.pagerduty_routing_key,
                "send_resolved": True,
                "severity": "critical",
                "description": "{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}",
            }
        ]
    return {
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": GROUP_BY,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                # kube-prometheus-stack's always-firing heartbeat and its info inhibitor.
                {
                    "matchers": ['alertname =~ "Watchdog|InfoInhibitor"'],
                    "receiver": NULL_RECEIVER,
                },
                # A page should arrive fast and be repeated until someone acts.
                {
                    "matchers": ['severity = "critical"'],
                    "receiver": CRITICAL_RECEIVER,
                    "group_wait": "10s",
                    "repeat_interval": "1h",
                },
                {
                    "matchers": ['severity = "warning"'],
                    "receiver": WARNING_RECEIVER,
                    "repeat_interval": "12h",
                },
                {"matchers": ['severity = "info"'], "receiver": NULL_RECEIVER},
            ],
        },
        "inhibit_rules": [
            # Only our alerts carry `component`; the chart's own have none, and Alertmanager
            # treats two missing labels as equal, so the source must have one.
            {
                "source_matchers": ['severity = "critical"', 'component =~ ".+"'],
                "target_matchers": ['severity =~ "warning|info"'],
                "equal": ["cluster", "component"],
            },
            {
                "source_matchers": ['severity = "warning"', 'component =~ ".+"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["cluster", "component", "workspace"],
            },
        ],
        "receivers": [
            {"name": NULL_RECEIVER},
            critical,
            {
                "name": WARNING_RECEIVER,
                "slack_configs": [_slack(receivers, receivers.warning_channel)],
            },
        ],
    }


def alertmanager_yaml(receivers: AlertReceivers) -> str:
    """The same configuration as YAML text, for a Secret's `alertmanager.yaml` key."""
    return yaml.safe_dump(alertmanager_config(receivers), sort_keys=False)


def silent_alertmanager_config() -> dict[str, Any]:
    """The configuration for a stack without receivers: every alert goes to the null receiver
    (visible in Alertmanager and Grafana, never sent), grouped and inhibited the same way."""
    config = alertmanager_config(AlertReceivers(slack_webhook_url="https://unused.invalid"))
    config["route"] = {key: value for key, value in config["route"].items() if key != "routes"}
    config["receivers"] = [{"name": NULL_RECEIVER}]
    return config
