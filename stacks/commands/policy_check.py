"""`utp-infra policy-check`: the CrossGuard pack, offline, on a stack's mocked resource graph."""

from __future__ import annotations

import json
from pathlib import Path

import click

from stacks.config import STACKS, ConfigError


@click.command("policy-check")
@click.option("--stack", "stack", required=True, type=click.Choice(STACKS), help="Stack to check.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--policy-pack-config",
    "config_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Same JSON as `pulumi preview --policy-pack-config` (overrides the stack's defaults).",
)
def command(stack: str, fmt: str, config_path: Path | None) -> None:
    """Build STACK under mocks and check it against policies/ (exit 1 on a mandatory violation)."""
    from policies.offline import check
    from stacks.offline import build_graph

    try:
        graph = build_graph(stack)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None
    config = json.loads(config_path.read_text()) if config_path else None
    report = check(graph, stack, config=config)
    click.echo(report.render("json" if fmt == "json" else "text"))
    raise SystemExit(report.exit_code)
