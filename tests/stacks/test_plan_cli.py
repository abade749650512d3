"""`utp-infra plan`: text and JSON output, and a clear failure on invalid config."""

from __future__ import annotations

import json
import logging

from click.testing import CliRunner

from stacks.cli import _register, cli
from stacks.config import ConfigError


def _run(*args: str):
    _register()
    return CliRunner().invoke(cli, list(args))


def test_plan_json_lists_every_resource_with_region():
    result = _run("plan", "--stack", "staging", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["count"] == len(doc["resources"]) > 100
    clusters = [r for r in doc["resources"] if r["type"] == "aws:eks/cluster:Cluster"]
    assert sorted(r["region"] for r in clusters) == ["us-east-1", "us-west-2"]
    tokens = [
        r for r in doc["resources"] if r["type"] == "random:index/randomPassword:RandomPassword"
    ]
    assert tokens and all("result" not in r["inputs"] for r in tokens)


def test_plan_json_shows_what_each_resource_waits_for():
    doc = json.loads(_run("plan", "--stack", "staging", "--format", "json").stdout)
    by_urn = {r["urn"]: r for r in doc["resources"]}
    node_groups = [r for r in doc["resources"] if r["type"] == "aws:eks/nodeGroup:NodeGroup"]
    assert node_groups
    for group in node_groups:
        waits_for = {by_urn[u]["type"] for u in group["dependsOn"]}
        # The cluster (its name is an input) and the networking add-ons (explicit depends_on).
        assert {"aws:eks/cluster:Cluster", "aws:eks/addon:Addon"} <= waits_for


def test_plan_text_shows_tree_and_summary():
    result = _run("plan", "--stack", "production")
    assert result.exit_code == 0, result.output
    assert "aws:rds/instance:Instance" in result.output and "protect" in result.output
    assert "Resources:" in result.output


def test_plan_warns_loudly_without_an_alert_receiver(caplog):
    # Neither stack file sets utp:alerting.slackWebhookUrl: staging must say so as well. The
    # program's pulumi.log.warn reaches `pulumi preview` as a warning and, under the mocks of
    # `utp-infra plan`, the root logger (stderr), never the JSON on stdout.
    for stack in ("staging", "production"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            result = _run("plan", "--stack", stack, "--format", "json")
        assert result.exit_code == 0, result.output
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(w.startswith("NO ALERT RECEIVER") for w in warnings), stack
        assert "NO ALERT RECEIVER" not in result.stdout
        json.loads(result.stdout)


def test_plan_invalid_config_exits_non_zero(monkeypatch):
    def broken(stack: str):
        raise ConfigError("Pulumi.staging.yaml: utp.colour: unknown key")

    monkeypatch.setattr("stacks.offline.build_graph", broken)
    result = _run("plan", "--stack", "staging")
    assert result.exit_code != 0
    assert "invalid configuration" in result.output and "utp.colour" in result.output
