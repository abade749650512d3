"""`utp-infra verify`: hold a stack's offline graph to what the real engine and APIs enforce."""

from __future__ import annotations

import click

from stacks.config import STACKS


@click.command("verify")
@click.option("--stack", "stack", required=True, type=click.Choice(STACKS), help="Stack.")
def command(stack: str) -> None:
    """Check STACK as `pulumi up` would see it (exit 1, one line per problem)."""
    from stacks.verify import verify

    problems = verify(stack)
    for line in problems:
        click.echo(line)
    if problems:
        raise SystemExit(1)
    click.echo(f"verify: {stack}: no problems")
