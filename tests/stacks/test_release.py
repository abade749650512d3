"""Deploy/rollback orchestration over the in-memory stack, a real HTTP health endpoint and a
loopback Slack webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stacks.health_gate import http_health_probe
from stacks.notify import SlackNotifier
from stacks.release import (
    Gate,
    GateClock,
    Release,
)
from stacks.release_cli import build_commands
from stacks.versions import rollback_target, running_version
from tests.stacks.in_memory_stack import InMemoryStack


def stepped_clock() -> GateClock:
    """Time that passes only while the gate waits: a deadline of 2 s at 0.05 s intervals allows
    40 checks however slowly a loaded machine answers them (the deadline measures real time
    in production only)."""
    elapsed = [0.0]

    def sleep(seconds: float) -> None:
        elapsed[0] += seconds

    return GateClock(now=lambda: elapsed[0], sleep=sleep)


def fast_gate() -> Gate:
    return Gate(deadline_seconds=2.0, interval_seconds=0.05, successes=2, clock=stepped_clock())


@dataclass
class FakeService:
    """/health/live and /health/ready of whatever version is 'deployed'; `-bad` ones fail.

    Like a rolling update, the previous release keeps answering `/health/live` for `lag`
    checks after a deploy; a `-stuck` version never starts serving.
    """

    url: str = ""
    version: str = ""
    serving: str = ""
    lag: int = 0
    lag_left: int = 0
    webhooks: list[dict[str, Any]] = field(default_factory=list)

    def release(self) -> str:
        if self.version.endswith("-stuck") or self.lag_left > 0:
            self.lag_left = max(0, self.lag_left - 1)
        else:
            self.serving = self.version
        return self.serving


@pytest.fixture
def loopback() -> Iterator[FakeService]:
    state = FakeService()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            broken = state.version.endswith("-bad")
            if self.path == "/health/live":
                self._json(200, {"status": "ok", "version": "0.1.0", "release": state.release()})
            elif self.path == "/health/ready":
                database = (
                    {"status": "down", "error": "ConnectionRefusedError"}
                    if broken
                    else {"status": "ok"}
                )
                self._json(
                    503 if broken else 200,
                    {
                        "status": "unavailable" if broken else "ok",
                        "checks": {
                            "database": {**database, "duration_ms": 1.0},
                            "redis": {"status": "ok", "duration_ms": 0.5},
                            "providers": {"status": "ok", "enabled": ["apertium"]},
                        },
                    },
                )
            elif self.path == "/metrics":
                body = b'utp_provider_breaker_state{provider="apertium"} 0.0\n'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self._json(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            if self.path == "/slack/hook":
                state.webhooks.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            else:
                self._json(404, {})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _stack(service: FakeService, version: str = "v1.0.0") -> InMemoryStack:
    def on_up(config: dict[str, Any]) -> dict[str, Any]:
        service.version = config["utp:service"]["imageTag"]
        service.lag_left = service.lag
        return {"databaseEndpoint": "utp-staging-db.abc.us-east-1.rds.amazonaws.com"}

    stack = InMemoryStack(
        "staging", {"utp:environment": "staging", "utp:service": {"imageTag": version}}, on_up
    )
    stack.up(message=f"utp-infra deploy {version}")  # the stack's first release
    return stack


@dataclass
class Recorder:
    lines: list[str] = field(default_factory=list)
    backups: list[tuple[str, str]] = field(default_factory=list)
    config_checks: list[str] = field(default_factory=list)
    dr_checks: list[str] = field(default_factory=list)


def no_failover(rec: Recorder) -> Any:
    """The DR check of a stack that is not failed over (tests/stacks/test_release_dr.py runs
    the real one against moto)."""

    def check(stack_name: str) -> str:
        rec.dr_checks.append(stack_name)
        return "utp-stg-use1-db in us-east-1 takes writes"

    return check


def _release(
    stack: InMemoryStack, service: FakeService, rec: Recorder, violations: list[str] | None = None
) -> Release:
    def backup(stack_name: str, label: str) -> str:
        rec.backups.append((stack_name, label))
        return f"snapshot {label}"

    return Release(
        stack,
        "staging",
        validate_config=rec.config_checks.append,
        policy_check=lambda name: violations or [],
        dr_check=no_failover(rec),
        backup=backup,
        health=http_health_probe(service.url, timeout=2.0),
        notify=SlackNotifier(service.url + "/slack/hook", rec.lines.append),
        gate=fast_gate(),
        log=rec.lines.append,
    )


def test_successful_deploy(loopback: FakeService) -> None:
    stack = _stack(loopback)
    rec = Recorder()
    result = _release(stack, loopback, rec).deploy("v1.1.0")

    assert result.outcome == "succeeded", rec.lines
    assert running_version(stack) == "v1.1.0" and loopback.version == "v1.1.0"
    assert rec.backups == [("staging", "pre-deploy-v1.1.0")]
    assert rec.config_checks == ["staging"] and rec.dr_checks == ["staging"]
    assert [s.name for s in result.steps] == [
        "pre-flight", "dr state", "pre-deploy backup", "up v1.1.0", "health gate"
    ]  # fmt: skip
    assert any("5. health gate ..." in line for line in rec.lines)
    assert rollback_target(stack) == "v1.0.0"
    [payload] = loopback.webhooks
    assert payload["stack"] == "staging" and payload["version"] == "v1.1.0"
    assert payload["outcome"] == "succeeded" and payload["previous_version"] == "v1.0.0"
    assert payload["duration_seconds"] >= 0 and "succeeded" in payload["text"]


def test_failed_health_gate_rolls_back_to_the_previous_version(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.1.0")
    rec = Recorder()
    result = _release(stack, loopback, rec).deploy("v1.2.0-bad")

    assert result.outcome == "rolled_back"
    assert "health gate: not healthy" in result.error and "database down" in result.error
    assert running_version(stack) == "v1.1.0" and loopback.version == "v1.1.0"
    newest = stack.history()[0]
    assert newest.result == "succeeded" and "rollback to v1.1.0 (automatic)" in newest.message
    steps = [(s.name, s.status) for s in result.steps]
    assert ("health gate", "failed") in steps
    assert ("automatic rollback to v1.1.0", "ok") in steps
    assert ("health gate after rollback", "ok") in steps
    [payload] = loopback.webhooks
    assert payload["outcome"] == "rolled_back" and payload["version"] == "v1.2.0-bad"
    assert payload["previous_version"] == "v1.1.0"


def test_health_gate_waits_for_the_new_release_to_serve(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.0.0")
    loopback.lag = 3
    rec = Recorder()
    result = _release(stack, loopback, rec).deploy("v1.1.0")

    assert result.outcome == "succeeded", rec.lines
    # The old release answered healthy meanwhile; those checks did not count.
    waited = [line for line in rec.lines if "health: degraded (release degraded)" in line]
    assert len(waited) == 3
    assert loopback.serving == "v1.1.0"


def test_release_that_never_serves_is_rolled_back(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.1.0")
    rec = Recorder()
    result = _release(stack, loopback, rec).deploy("v1.2.0-stuck")

    assert result.outcome == "rolled_back", rec.lines
    assert "not healthy" in result.error and "release degraded" in result.error
    assert running_version(stack) == "v1.1.0" and loopback.serving == "v1.1.0"
    # The deadline counts the gate's waits, not how long each check took: always 40 checks.
    waited = [line for line in rec.lines if "health: degraded (release degraded)" in line]
    assert len(waited) == 40


def test_failed_update_rolls_back_from_history(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.0.0")
    stack.set_config("utp:service.imageTag", _cv("v1.1.0"), path=True)
    stack.up(message="utp-infra deploy v1.1.0")
    original = stack.on_up

    def failing(config: dict[str, Any]) -> dict[str, Any]:
        if config["utp:service"]["imageTag"] == "v2.0.0":
            raise RuntimeError("Deployment utp/translator: ImagePullBackOff")
        return original(config)

    stack.on_up = failing
    result = _release(stack, loopback, Recorder()).deploy("v2.0.0")
    assert result.outcome == "rolled_back" and "ImagePullBackOff" in result.error
    assert running_version(stack) == "v1.1.0"
    assert [u.result for u in stack.history()[:2]] == ["succeeded", "failed"]


def test_dry_run_changes_nothing(loopback: FakeService) -> None:
    stack = _stack(loopback, "v1.0.0")
    config_before = json.dumps(stack.config, sort_keys=True)
    history_before = len(stack.history())
    rec = Recorder()
    result = _release(stack, loopback, rec).deploy("v1.1.0", dry_run=True)

    assert result.outcome == "dry_run" and result.ok
    assert stack.previews == ["utp-infra deploy v1.1.0 (dry run)"]
    assert json.dumps(stack.config, sort_keys=True) == config_before
    assert len(stack.history()) == history_before
    assert loopback.version == "v1.0.0"
    assert rec.backups == []
    assert loopback.webhooks[0]["outcome"] == "dry_run"


def test_policy_violation_stops_before_anything_changes(loopback: FakeService) -> None:
    stack = _stack(loopback)
    rec = Recorder()
    result = _release(stack, loopback, rec, violations=["aws-rds-storage-encrypted: off"]).deploy(
        "v1.1.0"
    )
    assert result.outcome == "failed" and "1 mandatory violation" in result.error
    assert running_version(stack) == "v1.0.0" and rec.backups == []
    assert loopback.webhooks[0]["outcome"] == "failed"


def test_bad_version_is_refused(loopback: FakeService) -> None:
    result = _release(_stack(loopback), loopback, Recorder()).deploy("1.2")
    assert result.outcome == "failed" and "vMAJOR.MINOR.PATCH" in result.error


def _cv(value: str) -> Any:
    from pulumi import automation as auto

    return auto.ConfigValue(value=value)


def test_cli_deploy_and_rollback(loopback: FakeService, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = _stack(loopback, "v1.0.0")
    snapshots: list[str] = []

    def backup_factory(pulumi_stack: Any) -> Any:
        def backup(name: str, label: str) -> str:
            snapshots.append(label)
            return label

        return backup

    deploy, rollback = build_commands(
        policy_check=lambda name: [],
        stack_factory=lambda name: stack,
        backup_factory=backup_factory,
        dr_check=no_failover(Recorder()),
        gate_clock=stepped_clock(),
    )
    env = {"UTP_SLACK_WEBHOOK_URL": loopback.url + "/slack/hook"}
    gate = ["--health-url", loopback.url, "--gate-deadline", "2", "--gate-interval", "0.1"]
    runner = CliRunner()

    done = runner.invoke(deploy, ["--stack", "staging", "--version", "v1.1.0", *gate], env=env)
    assert done.exit_code == 0, done.output
    assert "SUCCEEDED" in done.output and "notify: sent" in done.output
    assert loopback.url + "/slack" not in done.output, "the webhook URL is a secret"

    bad = runner.invoke(deploy, ["--stack", "staging", "--version", "v1.2.0-bad", *gate], env=env)
    assert bad.exit_code == 1 and "deploy rolled_back" in bad.output
    assert running_version(stack) == "v1.1.0"

    asked = runner.invoke(rollback, ["--stack", "staging", *gate], env=env, input="n\n")
    assert asked.exit_code == 1 and "from v1.1.0 to v1.0.0?" in asked.output
    assert running_version(stack) == "v1.1.0"

    back = runner.invoke(rollback, ["--stack", "staging", "--yes", *gate], env=env)
    assert back.exit_code == 0, back.output
    assert running_version(stack) == "v1.0.0"
    assert snapshots == ["pre-deploy-v1.1.0", "pre-deploy-v1.2.0-bad", "pre-rollback-v1.0.0"]
    assert [w["outcome"] for w in loopback.webhooks] == ["succeeded", "rolled_back", "rolled_back"]
    assert loopback.webhooks[-1]["action"] == "rollback"

    pinned = runner.invoke(
        rollback, ["--stack", "staging", "--rollback-to", "v1.1.0", "--yes", *gate], env=env
    )
    assert pinned.exit_code == 0, pinned.output
    assert running_version(stack) == "v1.1.0"


def test_cli_reads_the_webhook_from_a_file_as_utp_does(
    loopback: FakeService, tmp_path: Path
) -> None:
    """`utp-infra` reads its two secrets without the service's settings, `_FILE` included."""
    stack = _stack(loopback, "v1.0.0")
    deploy, _ = build_commands(
        policy_check=lambda name: [],
        stack_factory=lambda name: stack,
        backup_factory=lambda pulumi_stack: lambda name, label: label,
        dr_check=no_failover(Recorder()),
        gate_clock=stepped_clock(),
    )
    secret = tmp_path / "slack"
    secret.write_text(loopback.url + "/slack/hook\n")
    gate = ["--health-url", loopback.url, "--gate-deadline", "2", "--gate-interval", "0.1"]
    args = ["--stack", "staging", "--version", "v1.1.0", *gate]
    runner = CliRunner()

    both = {"UTP_SLACK_WEBHOOK_URL_FILE": str(secret), "UTP_SLACK_WEBHOOK_URL": "https://x"}
    refused = runner.invoke(deploy, args, env=both)
    assert refused.exit_code == 1
    assert "set UTP_SLACK_WEBHOOK_URL or UTP_SLACK_WEBHOOK_URL_FILE, not both" in refused.output
    assert running_version(stack) == "v1.0.0" and not loopback.webhooks

    done = runner.invoke(deploy, args, env={"UTP_SLACK_WEBHOOK_URL_FILE": str(secret)})
    assert done.exit_code == 0, done.output
    assert "notify: sent" in done.output and [w["outcome"] for w in loopback.webhooks] == [
        "succeeded"
    ]
