"""`utp-infra image-repository`: the ECR repository a stack creates, for CI to push to."""

from __future__ import annotations

import click

from stacks.config import STACKS, ConfigError, load_stack_config


@click.command("image-repository")
@click.option("--stack", "stack", required=True, type=click.Choice(STACKS), help="Stack.")
def command(stack: str) -> None:
    """Print the repository name (`utp-<environment>/service`) STACK's service pulls from."""
    try:
        click.echo(load_stack_config(stack).image_repository)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None
