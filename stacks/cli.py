"""`utp-infra`: offline plan, policy check, deploy and rollback of the Pulumi stacks."""

from __future__ import annotations

import importlib
import sys

import click

# One module per subcommand, each exposing `command`.
COMMAND_MODULES: tuple[str, ...] = (
    "stacks.commands.plan",
    "stacks.commands.policy_check",
    "stacks.commands.image_repository",
    "stacks.commands.verify",
    "stacks.commands.dr",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Platform tools for Universal Translator Pro's Pulumi stacks."""


def _register() -> None:
    from stacks.release_cli import COMMANDS as RELEASE_COMMANDS

    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        cli.add_command(module.command)
    # `deploy` and `rollback`, built around the same offline policy check.
    for command in RELEASE_COMMANDS:
        cli.add_command(command)


def main() -> None:
    try:
        import pulumi  # noqa: F401
    except ImportError:
        sys.exit("utp-infra needs the platform dependencies: .venv/bin/pip install -e '.[infra]'")
    _register()
    cli()


if __name__ == "__main__":
    main()
