"""`utp-infra deploy` and `utp-infra rollback` (see stacks/release.py and docs/operations.md)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import click

from ops_common.env import SecretEnvError, secret_from_env
from stacks.config import REPO_ROOT, STACKS, ConfigError, load_stack_config
from stacks.health_gate import http_health_probe
from stacks.notify import SlackNotifier
from stacks.release import (
    REAL_TIME,
    Backup,
    DrCheck,
    Gate,
    GateClock,
    PolicyCheck,
    PulumiStack,
    Release,
    ReleaseError,
    automation_stack,
)
from stacks.release_dr import not_failed_over
from stacks.snapshots import rds_snapshot_backup
from stacks.versions import RegistryError, newest_image_tag, rollback_target, running_version

StackFactory = Callable[[str], PulumiStack]
BackupFactory = Callable[[PulumiStack], Backup]
# The newest release image of the stack's registry (for `--version latest`).
LatestTag = Callable[[PulumiStack], str]


def registry_latest(stack: PulumiStack) -> str:
    output = stack.outputs().get("repositoryUrl")
    if output is None or not output.value:
        raise RegistryError("stack output repositoryUrl is missing: is the stack deployed?")
    return newest_image_tag(str(output.value))


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


def _one_stack(option: str | None, argument: str | None) -> str:
    if option and argument and option != argument:
        raise click.UsageError(f"two stacks given: {argument} and --stack {option}")
    chosen = option or argument
    if not chosen:
        raise click.UsageError("name the stack: --stack staging|production (or --environment)")
    return chosen


def _secret(var: str) -> str:
    try:
        return secret_from_env(var)
    except SecretEnvError as exc:
        raise click.ClickException(str(exc)) from None


def _log(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def build_commands(
    *,
    policy_check: PolicyCheck = offline_policy_check,
    stack_factory: StackFactory = lambda name: automation_stack(name, REPO_ROOT),
    backup_factory: BackupFactory = rds_snapshot_backup,
    dr_check: DrCheck = not_failed_over,
    latest_tag: LatestTag = registry_latest,
    gate_clock: GateClock = REAL_TIME,
) -> list[click.Command]:
    """The commands, with the policy check, stack, DR check, backup and the gate's clock wired
    by the caller."""

    def release(stack: str, health_url: str | None, gate: Gate) -> tuple[Release, PulumiStack]:
        api_key, webhook = _secret("UTP_HEALTH_CHECK_API_KEY"), _secret("UTP_SLACK_WEBHOOK_URL")
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
                dr_check=dr_check,
                backup=backup_factory(pulumi_stack),
                health=http_health_probe(url, api_key=api_key),
                notify=SlackNotifier(webhook, _log),
                gate=gate,
                log=_log,
            ),
            pulumi_stack,
        )

    def gate(deadline: float, interval: float) -> Gate:
        return Gate(deadline_seconds=deadline, interval_seconds=interval, clock=gate_clock)

    # `--environment` and (for rollback) a positional STACK: the deployment overview's
    # deploy.sh/rollback.sh spell it that way.
    stack_choice = click.Choice(STACKS)
    stack_option = click.option(
        "--stack", "--environment", "stack", type=stack_choice, help="staging or production."
    )
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
    @click.option(
        "--version",
        "version",
        required=True,
        help="Image tag to deploy, vX.Y.Z; `latest`: the newest vX.Y.Z image in the registry.",
    )
    @click.option("--dry-run", is_flag=True, help="Pre-flight and `pulumi preview` only.")
    @click.option(
        "--skip-backup",
        is_flag=True,
        help="No pre-deploy database snapshot (the DR state is still checked).",
    )
    @health_option
    @deadline_option
    @interval_option
    def deploy(
        stack: str | None,
        version: str,
        dry_run: bool,
        skip_backup: bool,
        health_url: str | None,
        gate_deadline: float,
        gate_interval: float,
    ) -> None:
        """Deploy VERSION: pre-flight, DR state (refused while failed over), backup, up,
        health gate; roll back if the gate fails."""
        name = _one_stack(stack, None)
        runner, pulumi_stack = release(name, health_url, gate(gate_deadline, gate_interval))
        if version == "latest":
            try:
                version = latest_tag(pulumi_stack)
            except RegistryError as exc:
                raise click.ClickException(f"--version latest: {exc}") from None
            _log(f"--version latest: {version}, the newest release image in the registry")
        result = runner.deploy(version, dry_run=dry_run, skip_backup=skip_backup)
        if not result.ok:
            raise click.ClickException(f"deploy {result.outcome}: {result.error}")

    @click.command("rollback")
    @click.argument("stack_argument", metavar="[STACK]", required=False, type=stack_choice)
    @stack_option
    @click.option("--rollback-to", "target", default=None, help="Version (default: previous).")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @click.option("--dry-run", is_flag=True, help="Pre-flight and `pulumi preview` only.")
    @health_option
    @deadline_option
    @interval_option
    def rollback(
        stack_argument: str | None,
        stack: str | None,
        target: str | None,
        yes: bool,
        dry_run: bool,
        health_url: str | None,
        gate_deadline: float,
        gate_interval: float,
    ) -> None:
        """Roll STACK back to --rollback-to, or to the last release before the running one
        that passed its health gate (both from the live stack's update history)."""
        name = _one_stack(stack, stack_argument)
        runner, pulumi_stack = release(name, health_url, gate(gate_deadline, gate_interval))
        current = running_version(pulumi_stack)
        chosen = target or rollback_target(pulumi_stack)
        if chosen is None:
            raise click.ClickException(
                f"{name}: no earlier good release in the stack history; name one with --rollback-to"
            )
        if not yes and not dry_run:
            click.confirm(f"Roll {name} back from {current or '?'} to {chosen}?", abort=True)
        result = runner.rollback(chosen, dry_run=dry_run)
        if not result.ok and result.outcome != "rolled_back":
            raise click.ClickException(f"rollback {result.outcome}: {result.error}")

    return [deploy, rollback]


COMMANDS: list[click.Command] = build_commands()
