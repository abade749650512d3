"""Deploy and rollback of a stack: pre-flight, DR state, backup, preview/up, health gate,
auto-rollback.

The orchestration talks to a `PulumiStack`: the subset of `pulumi.automation.Stack` it uses,
with the same method names and types, so a real Automation API stack (which needs the Pulumi
CLI) and the tests' in-memory stand-in (tests/stacks/in_memory_stack.py) are interchangeable.

The service version is set in the stack config as `utp:service.imageTag` for each `up`. Which
version runs, and which one a rollback returns to, comes from the live stack's update history
(stacks/versions.py), never from the committed stack file.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pulumi import automation as auto

from ops_common.healthcheck import HealthReport
from stacks.versions import (
    ROLLBACK_MESSAGE,
    VERSION,
    deployments,
    last_good,
    rollback_target,
    running_version,
)

IMAGE_TAG_KEY = "utp:service.imageTag"

Outcome = Literal["succeeded", "dry_run", "rolled_back", "rollback_failed", "failed"]
Log = Callable[[str], None]
PolicyCheck = Callable[[str], Sequence[str]]
ConfigCheck = Callable[[str], None]
Backup = Callable[[str, str], str]
# Called with the stack name before the backup and `up`; refuses (ReleaseError) while a DR
# failover is in force or half-way, when an `up` would undo it (stacks/release_dr.py).
DrCheck = Callable[[str], str]
# Called with the release that must be serving (the image tag just deployed).
HealthProbe = Callable[[str], HealthReport]


class ReleaseError(RuntimeError):
    """A step refused or failed; the message names the step and the reason."""


class PulumiStack(Protocol):
    """What the orchestration needs of `pulumi.automation.Stack` (same names and types)."""

    @property
    def name(self) -> str: ...

    def preview(
        self, *, message: str | None = None, on_output: Callable[[str], Any] | None = None
    ) -> auto.PreviewResult: ...

    def up(
        self, *, message: str | None = None, on_output: Callable[[str], Any] | None = None
    ) -> auto.UpResult: ...

    def outputs(self) -> MutableMapping[str, auto.OutputValue]: ...

    def history(
        self, page_size: int | None = None, page: int | None = None, show_secrets: bool = True
    ) -> list[auto.UpdateSummary]: ...

    def set_config(self, key: str, value: auto.ConfigValue, *, path: bool = False) -> None: ...

    def get_config(self, key: str, *, path: bool = False) -> auto.ConfigValue: ...


def automation_stack(stack: str, work_dir: Path) -> PulumiStack:
    """The real stack, through the Automation API; it drives the `pulumi` CLI."""
    if shutil.which("pulumi") is None:
        raise ReleaseError(
            "the Pulumi CLI is not installed (https://www.pulumi.com/docs/iac/download-install/); "
            "deploy and rollback drive it through the Automation API. Without it, "
            "`utp-infra plan --stack " + stack + "` shows the offline resource graph."
        )
    return auto.select_stack(stack_name=stack, work_dir=str(work_dir))


# -- the orchestration ------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    status: str
    seconds: float
    detail: str = ""


@dataclass
class ReleaseResult:
    action: Literal["deploy", "rollback"]
    stack: str
    version: str
    outcome: Outcome
    previous_version: str | None
    seconds: float
    steps: list[Step] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("succeeded", "dry_run")

    def payload(self) -> dict[str, Any]:
        icon = {"succeeded": ":white_check_mark:", "dry_run": ":mag:"}.get(self.outcome, ":x:")
        text = (
            f"{icon} {self.action} {self.stack} {self.version}: {self.outcome} "
            f"in {self.seconds:.0f}s"
        )
        if self.error:
            text += f" - {self.error}"
        return {
            "text": text,
            "action": self.action,
            "stack": self.stack,
            "version": self.version,
            "outcome": self.outcome,
            "previous_version": self.previous_version,
            "duration_seconds": round(self.seconds, 1),
            "error": self.error,
            "steps": [
                {"name": s.name, "status": s.status, "seconds": round(s.seconds, 1)}
                for s in self.steps
            ],
            "finished_at": datetime.now(UTC).isoformat(),
        }


@dataclass(frozen=True)
class GateClock:
    """What the gate's deadline is measured by and how it waits between checks. Tests pass a
    clock that moves only when the gate sleeps: the gate then allows a fixed number of checks,
    however slowly a loaded machine answers them."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


REAL_TIME = GateClock()


@dataclass(frozen=True, kw_only=True)
class Gate:
    """Post-deploy health gate: `successes` healthy checks in a row before `deadline_seconds`."""

    deadline_seconds: float = 300.0
    interval_seconds: float = 10.0
    successes: int = 3
    clock: GateClock = REAL_TIME


class Release:
    def __init__(
        self,
        stack: PulumiStack,
        stack_name: str,
        *,
        validate_config: ConfigCheck,
        policy_check: PolicyCheck,
        dr_check: DrCheck,
        backup: Backup | None,
        health: HealthProbe,
        notify: Callable[[dict[str, Any]], None],
        gate: Gate = Gate(),
        log: Log = print,
    ) -> None:
        self.stack = stack
        self.stack_name = stack_name
        self.validate_config = validate_config
        self.policy_check = policy_check
        self.dr_check = dr_check
        self.backup = backup
        self.health = health
        self.notify = notify
        self.gate = gate
        self.log = log

    # -- steps --

    def _step(self, result: ReleaseResult, name: str, fn: Callable[[], str]) -> str:
        number = len(result.steps) + 1
        self.log(f"[{result.action} {self.stack_name} {result.version}] {number}. {name} ...")
        started = time.monotonic()
        try:
            detail = fn()
        except Exception as exc:
            seconds = time.monotonic() - started
            result.steps.append(Step(name, "failed", seconds, str(exc)))
            self.log(f"    {name}: FAILED after {seconds:.1f}s: {exc}")
            raise
        seconds = time.monotonic() - started
        result.steps.append(Step(name, "ok", seconds, detail))
        self.log(f"    {name}: ok ({seconds:.1f}s){' - ' + detail if detail else ''}")
        return detail

    def _preflight(self, version: str) -> str:
        if not VERSION.match(version):
            raise ReleaseError(f"--version {version!r} is not vMAJOR.MINOR.PATCH[-suffix]")
        self.validate_config(self.stack_name)
        violations = list(self.policy_check(self.stack_name))
        if violations:
            shown = "; ".join(violations[:5])
            raise ReleaseError(f"policy check: {len(violations)} mandatory violation(s): {shown}")
        return "config valid, policies pass"

    def _set_version(self, version: str) -> None:
        self.stack.set_config(IMAGE_TAG_KEY, auto.ConfigValue(value=version), path=True)

    def _up(self, version: str, message: str) -> str:
        self._set_version(version)
        result = self.stack.up(message=message, on_output=self._engine_line)
        changes = result.summary.resource_changes or {}
        return ", ".join(f"{k} {v}" for k, v in sorted(changes.items())) or "no changes"

    def _engine_line(self, line: str) -> None:
        if line.strip():
            self.log("      | " + line.rstrip())

    def _wait_healthy(self, version: str) -> str:
        clock = self.gate.clock
        deadline = clock.now() + self.gate.deadline_seconds
        streak = 0
        last = "no check ran"
        while True:
            report = self.health(version)
            failing = [
                f"{c.name} {c.status}"
                for c in report.components
                if c.status in ("down", "degraded")
            ]
            last = f"{report.status}" + (f" ({', '.join(failing)})" if failing else "")
            streak = streak + 1 if report.exit_code == 0 else 0
            self.log(f"    health: {last} [{streak}/{self.gate.successes}]")
            if streak >= self.gate.successes:
                return f"{streak} healthy checks in a row"
            if clock.now() + self.gate.interval_seconds > deadline:
                raise ReleaseError(
                    f"health gate: not healthy within {self.gate.deadline_seconds:.0f}s; "
                    f"last: {last}"
                )
            clock.sleep(self.gate.interval_seconds)

    def _finish(self, result: ReleaseResult, started: float) -> ReleaseResult:
        result.seconds = time.monotonic() - started
        self.log(
            f"[{result.action} {self.stack_name} {result.version}] {result.outcome.upper()} "
            f"in {result.seconds:.1f}s"
        )
        self.notify(result.payload())
        return result

    # -- commands --

    def deploy(
        self, version: str, *, dry_run: bool = False, skip_backup: bool = False
    ) -> ReleaseResult:
        started = time.monotonic()
        result = ReleaseResult("deploy", self.stack_name, version, "failed", None, 0.0)
        try:
            self._step(result, "pre-flight", lambda: self._preflight(version))
            history = deployments(self.stack)
            result.previous_version = history[0].version if history else None
            # Chosen before `up` adds this version to the history.
            fallback = last_good(history, other_than=version)
        except Exception as exc:
            result.error = str(exc)
            return self._finish(result, started)

        if dry_run:
            try:
                self._step(result, "preview", lambda: self._preview(version, f"deploy {version}"))
                result.outcome = "dry_run"
            except Exception as exc:
                result.error = str(exc)
            return self._finish(result, started)

        try:
            # Whatever --skip-backup says: skipping the snapshot must not skip this.
            self._step(result, "dr state", lambda: self.dr_check(self.stack_name))
            if skip_backup or self.backup is None:
                reason = "--skip-backup" if skip_backup else "no backup hook"
                result.steps.append(Step("pre-deploy backup", "skipped", 0.0, reason))
                self.log(f"    pre-deploy backup: skipped ({reason})")
            else:
                backup = self.backup
                self._step(
                    result,
                    "pre-deploy backup",
                    lambda: backup(self.stack_name, f"pre-deploy-{version}"),
                )
        except Exception as exc:
            result.error = str(exc)
            return self._finish(result, started)

        try:
            self._step(
                result, f"up {version}", lambda: self._up(version, f"utp-infra deploy {version}")
            )
            self._step(result, "health gate", lambda: self._wait_healthy(version))
            result.outcome = "succeeded"
            return self._finish(result, started)
        except Exception as exc:
            result.error = str(exc)
        self._auto_rollback(result, fallback)
        return self._finish(result, started)

    def _preview(self, version: str, action: str) -> str:
        # Preview reads the stack config, so the new tag is set for it and put back after:
        # a dry run leaves the stack exactly as it was.
        try:
            before: auto.ConfigValue | None = self.stack.get_config(IMAGE_TAG_KEY, path=True)
        except auto.CommandError:
            before = None
        self._set_version(version)
        try:
            preview = self.stack.preview(
                message=f"utp-infra {action} (dry run)", on_output=self._engine_line
            )
        finally:
            if before is not None:
                self.stack.set_config(IMAGE_TAG_KEY, before, path=True)
        changes = preview.change_summary or {}
        return ", ".join(f"{k} {v}" for k, v in sorted(changes.items())) or "no changes"

    def _auto_rollback(self, result: ReleaseResult, target: str | None) -> None:
        if target is None:
            result.outcome = "failed"
            result.error += "; no previous version to roll back to"
            self.log("    automatic rollback: impossible, no previous version recorded")
            return
        try:
            self._step(
                result,
                f"automatic rollback to {target}",
                lambda: self._up(target, f"{ROLLBACK_MESSAGE} {target} (automatic)"),
            )
            self._step(result, "health gate after rollback", lambda: self._wait_healthy(target))
            result.outcome = "rolled_back"
        except Exception as exc:
            result.outcome = "rollback_failed"
            result.error += f"; rollback to {target} failed: {exc}"

    def rollback(self, to: str | None = None, *, dry_run: bool = False) -> ReleaseResult:
        started = time.monotonic()
        current = running_version(self.stack)
        target = to or rollback_target(self.stack)
        result = ReleaseResult("rollback", self.stack_name, target or "?", "failed", current, 0.0)
        try:
            if target is None:
                raise ReleaseError(
                    "no previous version in the stack history; name one with --rollback-to"
                )
            self._step(result, "pre-flight", lambda: self._preflight(target))
            if dry_run:
                self._step(
                    result, "preview", lambda: self._preview(target, f"rollback to {target}")
                )
                result.outcome = "dry_run"
                return self._finish(result, started)
            self._step(result, "dr state", lambda: self.dr_check(self.stack_name))
            if self.backup is not None:
                backup = self.backup
                self._step(
                    result,
                    "pre-rollback backup",
                    lambda: backup(self.stack_name, f"pre-rollback-{target}"),
                )
            self._step(
                result, f"up {target}", lambda: self._up(target, f"{ROLLBACK_MESSAGE} {target}")
            )
            self._step(result, "health gate", lambda: self._wait_healthy(target))
            result.outcome = "rolled_back"
        except Exception as exc:
            result.error = str(exc)
        return self._finish(result, started)
