"""`utp-infra dr status|failover|failback --stack S [--dry-run] [--json]`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from stacks.config import STACKS, ConfigError, load_stack_config
from stacks.dr.aws import ClientFactory, Clients, default_factory
from stacks.dr.names import DrNames
from stacks.dr.plan import DEFERRED, FAILED, Report, failback, failover
from stacks.dr.state import Context
from stacks.dr.status import status

# Exit codes: 0 every step's effect holds, 1 refused or a step failed (re-run to resume once
# fixed), 3 only deferred steps remain (their region was down: re-run when it answers).
EXIT_DEFERRED = 3

_OUTCOME_TEXT = {
    "already_done": "already done",
    "would_run": "would run",
    "done": "done",
    "deferred": "DEFERRED",
    "failed": "FAILED",
    "not_reached": "not reached",
    "unknown": "state unknown",
}


def _context(click_ctx: click.Context, stack: str) -> Context:
    """The stack's names and the AWS clients; the caller may hand in a client factory and the
    services' readiness URLs through `obj` (the drill test does: moto, a loopback service)."""
    try:
        cfg = load_stack_config(stack)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None
    obj: dict[str, Any] = click_ctx.obj or {}
    factory: ClientFactory = obj.get("client_factory") or default_factory()
    extra = {k: obj[k] for k in ("ready_urls", "now", "sleep", "poll_seconds") if k in obj}
    return Context(names=DrNames.from_config(cfg), clients=Clients(factory), **extra)


@contextmanager
def _aws_errors() -> Iterator[None]:
    """What the steps do not handle themselves (no credentials, access denied) ends the
    command with the SDK's message instead of a traceback."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise click.ClickException(f"AWS: {exc}") from None


def render(report: Report) -> str:
    title = f"dr {report.action} --stack {report.stack}" + (
        " (dry run: the plan)" if report.dry_run else ""
    )
    lines = [title]
    if report.unread:
        lines.append(report.unread)
    if report.refused:
        lines.append("REFUSED:")
        lines += [f"  - {reason}" for reason in report.refused]
    width = max((len(s.step) for s in report.steps), default=0)
    for i, s in enumerate(report.steps, 1):
        lines.append(f"{i:>2}. {s.step:<{width}}  [{s.region}]  {_OUTCOME_TEXT[s.outcome]}")
        lines.append(f"      calls: {s.calls}")
        if s.detail:
            lines.append(f"      now:   {s.detail}")
    if not report.refused and not report.dry_run:
        lines.append("complete" if report.complete else "INCOMPLETE: re-run the same command")
    return "\n".join(lines)


def _finish(report: Report, as_json: bool, timeline: Path | None) -> None:
    if timeline is not None:
        timeline.write_text(json.dumps(report.timeline, indent=2) + "\n")
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else render(report))
    outcomes = {s.outcome for s in report.steps}
    if report.refused or FAILED in outcomes:
        raise SystemExit(1)
    if DEFERRED in outcomes and not report.dry_run:
        raise SystemExit(EXIT_DEFERRED)


_stack = click.option("--stack", required=True, type=click.Choice(STACKS), help="Stack.")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
_dry = click.option(
    "--dry-run", is_flag=True, help="Print the plan: each step, whether it is done."
)
_timeline = click.option(
    "--timeline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the run's timeline (JSON events with UTC times) to this file.",
)


@click.group("dr")
def command() -> None:
    """Disaster recovery between the stack's regions (docs/operations.md#dr-failover)."""


@command.command("status")
@_stack
@_json
@click.pass_context
def status_command(click_ctx: click.Context, stack: str, as_json: bool) -> None:
    """Database roles, replica lag (RPO now), health checks, the DNS answer."""
    with _aws_errors():
        result = status(_context(click_ctx, stack), stack=stack)
    click.echo(json.dumps(result, indent=2, default=str) if as_json else render_status(result))


@command.command("failover")
@_stack
@_dry
@_json
@_timeline
@click.pass_context
def failover_command(
    click_ctx: click.Context, stack: str, dry_run: bool, as_json: bool, timeline: Path | None
) -> None:
    """Fence the primary region, promote the DR replica, point DNS at the DR region.

    Needs only the DR region's APIs (and Route 53) and no Pulumi run; every step is skipped
    when its effect already holds, so re-running resumes an interrupted failover."""
    with _aws_errors():
        report = failover(_context(click_ctx, stack), stack=stack, dry_run=dry_run)
    _finish(report, as_json, timeline)


@command.command("failback")
@_stack
@_dry
@_json
@_timeline
@click.pass_context
def failback_command(
    click_ctx: click.Context, stack: str, dry_run: bool, as_json: bool, timeline: Path | None
) -> None:
    """Back to the primary region once it is rebuilt as a replica of the DR region.

    Never automatic; refuses, saying why, unless the primary region's database replicates from
    the DR one with its lag within the RPO."""
    with _aws_errors():
        report = failback(_context(click_ctx, stack), stack=stack, dry_run=dry_run)
    _finish(report, as_json, timeline)


def render_status(result: dict[str, Any]) -> str:
    lines = [f"dr status --stack {result['stack']}"]
    for r in result["regions"]:
        head = f"{r['region']} (configured {r['configured_role']})"
        if not r["reachable"]:
            lines.append(f"{head}: APIs UNREACHABLE ({r['error']})")
        else:
            db = r["database"]
            lines.append(
                f"{head}: database {db['identifier']} {db['role']} ({db['status']}),"
                f" backups {db['backup_retention_days']} days"
                + (f", FENCED at {db['fenced_at']}" if db["fenced_at"] else "")
            )
            if "replica_lag_seconds" in r:
                lag = r["replica_lag_seconds"]
                lines.append(
                    "  replica lag (RPO now): "
                    + ("no datapoint" if lag is None else f"{lag:.0f} s")
                    + ("" if r["rpo_met"] else "  (RPO of 5 min NOT met)")
                )
        svc = r["service"]
        lines.append(f"  service: ready={svc['ready']} role={svc['role']} ({svc['detail']})")
    dns = result["dns"]
    if "error" in dns:
        lines.append(f"DNS: {dns['error']}")
    else:
        for region, c in dns["health_checks"].items():
            lines.append(
                f"health check {region} {c['id']} ({c['fqdn']}): healthy={c['healthy']}"
                f" disabled={c['disabled']} inverted={c['inverted']}"
            )
        for key, rec in dns["records"].items():
            lines.append(f"record {key}: {rec['failover']} -> {rec['target']}")
        a = dns["answer"]
        lines.append(f"DNS answer for {a['hostname']}: {a['record']} -> {a['target']}")
    backups = result["dr_backups"]
    lines.append(
        f"newest backup in the DR bucket: {backups.get('newest')} ({backups.get('at', '-')})"
        if "error" not in backups
        else f"DR bucket: {backups['error']}"
    )
    return "\n".join(lines)
