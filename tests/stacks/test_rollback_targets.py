"""Rollback targets come from the live stack's history, never the committed stack file; the
deployment overview's spellings (`--environment`, `--version latest`, `rollback staging`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from stacks.release import IMAGE_TAG_KEY
from stacks.release_cli import build_commands
from stacks.versions import deployments, rollback_target, running_version
from tests.stacks.in_memory_stack import InMemoryStack
from tests.stacks.test_release import (
    FakeService,
    Recorder,
    _cv,
    _release,
    _stack,
    loopback,
    no_failover,
    stepped_clock,
)

__all__ = ["loopback"]  # the fixture, shared with test_release.py

COMMITTED = "0.1.0"  # what Pulumi.<stack>.yaml holds in a fresh checkout


def _deploy(stack: InMemoryStack, *versions: str) -> None:
    for version in versions:
        stack.set_config(IMAGE_TAG_KEY, _cv(version), path=True)
        stack.up(message=f"utp-infra deploy {version}")


def _fresh_checkout(stack: InMemoryStack) -> None:
    """CI's view: the live history is intact, the stack file says what was committed."""
    stack.set_config(IMAGE_TAG_KEY, _cv(COMMITTED), path=True)


def test_failed_deploy_rolls_back_to_what_was_deployed_not_the_committed_tag(
    loopback: FakeService,
) -> None:
    stack = _stack(loopback, "v1.0.0")
    _deploy(stack, "v1.1.0")
    _fresh_checkout(stack)
    result = _release(stack, loopback, Recorder()).deploy("v1.2.0-bad")

    assert result.outcome == "rolled_back", result.error
    assert result.previous_version == "v1.1.0"
    assert ("automatic rollback to v1.1.0", "ok") in [(s.name, s.status) for s in result.steps]
    assert loopback.version == "v1.1.0" and running_version(stack) == "v1.1.0"
    assert loopback.webhooks[-1]["previous_version"] == "v1.1.0"


def test_plain_rollback_never_picks_the_running_version(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.0.0")
    _deploy(stack, "v1.1.0", "v1.2.0")
    stack.set_config(IMAGE_TAG_KEY, _cv("v1.0.0"), path=True)  # a stale committed file

    assert running_version(stack) == "v1.2.0"
    assert rollback_target(stack) == "v1.1.0"
    result = _release(stack, loopback, Recorder()).rollback()
    assert result.outcome == "rolled_back" and result.version == "v1.1.0"
    assert result.previous_version == "v1.2.0"
    assert loopback.version == "v1.1.0"


def test_plain_rollback_skips_releases_that_failed_their_gate(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.0.0")
    _deploy(stack, "v1.1.0")
    assert _release(stack, loopback, Recorder()).deploy("v1.2.0-bad").outcome == "rolled_back"
    assert _release(stack, loopback, Recorder()).deploy("v1.3.0").outcome == "succeeded"
    _fresh_checkout(stack)

    versions = [(d.version, d.rolled_back) for d in deployments(stack)]
    assert versions == [
        ("v1.3.0", False), ("v1.1.0", False), ("v1.2.0-bad", True), ("v1.1.0", False),
        ("v1.0.0", False),
    ]  # fmt: skip
    result = _release(stack, loopback, Recorder()).rollback()
    assert result.version == "v1.1.0" and result.outcome == "rolled_back"
    # Undone by hand: v1.3.0 is no longer a target either; the next plain rollback goes older.
    assert rollback_target(stack) == "v1.0.0"


def test_rollback_to_a_named_version(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.0.0")
    _deploy(stack, "v1.1.0", "v1.2.0")
    _fresh_checkout(stack)
    result = _release(stack, loopback, Recorder()).rollback("v1.0.0")
    assert result.outcome == "rolled_back" and loopback.version == "v1.0.0"
    assert running_version(stack) == "v1.0.0"


def _commands(stack: InMemoryStack, latest: Any = None) -> tuple[Any, Any]:
    kwargs: dict[str, Any] = {}
    if latest is not None:
        kwargs["latest_tag"] = latest
    deploy, rollback = build_commands(
        policy_check=lambda name: [],
        stack_factory=lambda name: stack,
        backup_factory=lambda pulumi_stack: None,
        dr_check=no_failover(Recorder()),
        gate_clock=stepped_clock(),
        **kwargs,
    )
    return deploy, rollback


def test_overview_spellings_environment_latest_and_positional_stack(
    loopback: FakeService,
) -> None:
    gate = ["--health-url", loopback.url, "--gate-deadline", "2", "--gate-interval", "0.1"]
    with mock_aws():
        ecr = boto3.client("ecr", region_name="us-east-1")
        repo = ecr.create_repository(repositoryName="utp-staging/translator")["repository"]
        media = "application/vnd.docker.distribution.manifest.v2+json"
        manifest = json.dumps({"schemaVersion": 2, "mediaType": media, "layers": []})
        ecr.put_image(repositoryName=repo["repositoryName"], imageManifest=manifest,
                      imageTag="v1.9.0")  # fmt: skip
        time.sleep(1.1)  # ECR records push times in seconds
        newer = json.dumps(
            {"schemaVersion": 2, "mediaType": media, "layers": [], "config": {"digest": "b"}}
        )
        for tag in ("v1.10.0", "main-3f2a"):  # the newest push; not the highest string
            ecr.put_image(repositoryName=repo["repositoryName"], imageManifest=newer,
                          imageTag=tag)  # fmt: skip

        stack = _stack(loopback, "v1.0.0")
        original = stack.on_up
        stack.on_up = lambda cfg: {**original(cfg), "repositoryUrl": repo["repositoryUri"]}
        _deploy(stack, "v1.1.0")
        deploy, rollback = _commands(stack)
        runner = CliRunner()
        done = runner.invoke(
            deploy, ["--environment", "staging", "--version", "latest", *gate], env={}
        )
        assert done.exit_code == 0, done.output
        assert "--version latest: v1.10.0" in done.output
        assert running_version(stack) == "v1.10.0"

    back = runner.invoke(rollback, ["staging", "--yes", *gate], env={})
    assert back.exit_code == 0, back.output
    assert running_version(stack) == "v1.1.0"

    clash = runner.invoke(rollback, ["staging", "--stack", "production", "--yes"])
    assert clash.exit_code == 2 and "two stacks given" in clash.output
    missing = runner.invoke(rollback, ["--yes"])
    assert missing.exit_code == 2 and "name the stack" in missing.output


def test_rollback_dry_run_previews_and_changes_nothing(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.0.0")
    _deploy(stack, "v1.1.0")
    history = len(stack.history())
    _, rollback = _commands(stack)
    result = CliRunner().invoke(rollback, ["staging", "--dry-run"], env={})
    assert result.exit_code == 0, result.output
    assert stack.previews == ["utp-infra rollback to v1.0.0 (dry run)"]
    assert len(stack.history()) == history and running_version(stack) == "v1.1.0"
    assert stack.get_config(IMAGE_TAG_KEY, path=True).value == "v1.1.0"


@pytest.mark.parametrize(
    "args",
    [
        ["deploy", "--environment", "staging", "--version", "v1.2.3", "--dry-run"],
        ["deploy", "--environment", "staging", "--version", "latest", "--dry-run"],
        ["rollback", "staging", "--dry-run"],
    ],
)
def test_without_the_pulumi_cli_the_commands_say_what_they_need(
    args: list[str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UTP_")}
    env["PATH"] = str(tmp_path)  # no `pulumi` on it
    result = subprocess.run(
        [sys.executable, "-m", "stacks.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the Pulumi CLI is not installed" in result.stderr
    assert "utp-infra plan --stack staging" in result.stderr
