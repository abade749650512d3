"""`utp-infra deploy` and `utp-infra rollback` (see stacks/release.py and docs/operations.md)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import click

from stacks.config import REPO_ROOT, STACKS, ConfigError, load_stack_config
from stacks.release import (
    Backup,
    Gate,
    PolicyCheck,
    PulumiStack,
    Release,
    ReleaseError,
    SlackNotifier,
    automation_stack,
    current_version,
    http_health_probe,
    previous_version,
    rds_snapshot_backup,
)

StackFactory = Callable[[str], PulumiStack]
BackupFactory = Callable[[PulumiStack], Backup]


def offline_policy_check(stack: str) -> Sequence[str]:
    """Mandatory violations of the CrossGuard pack on the program built under mocks."""
    from policies.offline import check
    from stacks.offline import build_graph

    report = check(build_graph(stack), stack)
    return [f"{v.rule}: {v.message}" for v in report.mandatory]


def validate_stack_config(stack: str) -> None:
    try:
        load_stack_config(stack)
    except ConfigError as exc:
        raise ReleaseError(f"config: {exc}") from None


def _health_url(stack: str, given: str | None) -> str:
    if given:
        return given
    if os.environ.get("UTP_HEALTH_CHECK_URL"):
        return os.environ["UTP_HEALTH_CHECK_URL"]
    try:
        return f"https://{load_stack_config(stack).dns.api_hostname}"
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _log(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def build_commands(
    *,
    policy_check: PolicyCheck = offline_policy_check,
    stack_factory: StackFactory = lambda name: automation_stack(name, REPO_ROOT),
    backup_factory: BackupFactory = rds_snapshot_backup,
) -> list[click.Command]:
    """The commands, with the policy check, stack and backup wired by the caller."""
    from service.settings import Settings, SettingsError

    def settings() -> Settings:
        try:
            return Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None

    def release(stack: str, health_url: str | None, gate: Gate) -> tuple[Release, PulumiStack]:
        ops = settings().ops
        try:
            pulumi_stack = stack_factory(stack)
        except ReleaseError as exc:
            raise click.ClickException(str(exc)) from None
        url = _health_url(stack, health_url)
        return (
            Release(
                pulumi_stack,
                stack,
                validate_config=validate_stack_config,
                policy_check=policy_check,
                backup=backup_factory(pulumi_stack),
                health=http_health_probe(url, api_key=ops.health_check_api_key.get()),
                notify=SlackNotifier(ops.slack_webhook_url.get(), _log),
                gate=gate,
                log=_log,
            ),
            pulumi_stack,
        )

    stack_option = click.option("--stack", type=click.Choice(STACKS), required=True)
    health_option = click.option(
        "--health-url",
        default=None,
        help="Service URL for the health gate (default UTP_HEALTH_CHECK_URL, else "
        "https://<dns.apiHostname> of the stack).",
    )
    deadline_option = click.option(
        "--gate-deadline",
        type=click.FloatRange(min=1),
        default=300.0,
        show_default=True,
        help="Seconds the new version has to become healthy.",
    )
    interval_option = click.option(
        "--gate-interval", type=click.FloatRange(min=0.1), default=10.0, show_default=True
    )

    @click.command("deploy")
    @stack_option
    @click.option("--version", "version", required=True, help="Image tag to deploy, vX.Y.Z.")
    @click.option("--dry-run", is_flag=True, help="Pre-flight and `pulumi preview` only.")
    @click.option("--skip-backup", is_flag=True, help="No pre-deploy database snapshot.")
    @health_option
    @deadline_option
    @interval_option
    def deploy(
        stack: str,
        version: str,
        dry_run: bool,
        skip_backup: bool,
        health_url: str | None,
        gate_deadline: float,
        gate_interval: float,
    ) -> None:
        """Deploy VERSION: pre-flight, backup, up, health gate; roll back if the gate fails."""
        runner, _ = release(
            stack, health_url, Gate(deadline_seconds=gate_deadline, interval_seconds=gate_interval)
        )
        result = runner.deploy(version, dry_run=dry_run, skip_backup=skip_backup)
        if not result.ok:
            raise click.ClickException(f"deploy {result.outcome}: {result.error}")

    @click.command("rollback")
    @stack_option
    @click.option("--rollback-to", "target", default=None, help="Version (default: previous).")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @health_option
    @deadline_option
    @interval_option
    def rollback(
        stack: str,
        target: str | None,
        yes: bool,
        health_url: str | None,
        gate_deadline: float,
        gate_interval: float,
    ) -> None:
        """Roll STACK back to --rollback-to, or to the previous successfully deployed version."""
        runner, pulumi_stack = release(
            stack, health_url, Gate(deadline_seconds=gate_deadline, interval_seconds=gate_interval)
        )
        current = current_version(pulumi_stack)
        chosen = target or previous_version(pulumi_stack, current)
        if chosen is None:
            raise click.ClickException(
                f"{stack}: no previous version in the stack history; name one with --rollback-to"
            )
        if not yes:
            click.confirm(f"Roll {stack} back from {current or '?'} to {chosen}?", abort=True)
        result = runner.rollback(chosen)
        if not result.ok and result.outcome != "rolled_back":
            raise click.ClickException(f"rollback {result.outcome}: {result.error}")

    return [deploy, rollback]


COMMANDS: list[click.Command] = build_commands()
