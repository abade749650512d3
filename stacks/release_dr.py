"""What a release asks of the DR state (stacks/dr/writer.py): which region's database takes
writes, and whether a `pulumi up` may run now."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from stacks.config import ConfigError, load_stack_config
from stacks.dr.aws import ClientFactory, Clients, default_factory
from stacks.dr.names import DrNames, RegionNames
from stacks.dr.state import Context
from stacks.dr.writer import NoSingleWriter, writable_primary
from stacks.release import ReleaseError


def release_writer(
    stack_name: str, clients: Clients, *, refused: str = ""
) -> tuple[DrNames, RegionNames]:
    """The stack's DR names (from its stack file, the way `utp-infra dr` finds them) and the
    region whose database takes writes. A ReleaseError when that is not certain (the reason,
    after `refused`) or cannot be read."""
    try:
        names = DrNames.from_config(load_stack_config(stack_name))
    except ConfigError as exc:
        raise ReleaseError(f"config: {exc}") from None
    try:
        writer = writable_primary(Context(names=names, clients=clients))
    except NoSingleWriter as exc:
        raise ReleaseError(f"{refused}{exc}; then release again") from None
    except (ClientError, BotoCoreError) as exc:
        raise ReleaseError(f"reading which database takes writes failed: {exc}") from None
    return names, writer


def not_failed_over(stack_name: str, *, client_factory: ClientFactory | None = None) -> str:
    """The release's DR check (release.DrCheck), before its backup and `up`: the configured
    primary region's database must be the one that takes writes.

    The program always declares the configured primary region primary, so an `up` while failed
    over would re-enable its health check, point DNS back at the fenced region and plan to
    replace the promoted database with a replica (docs/operations.md#dr-reconcile). When no
    single database is known to take writes (a failover or failback half-way, a region that
    does not answer) nobody can say what an `up` would do either."""
    # Short timeouts (default_factory): a region that is down fails in seconds.
    clients = Clients(client_factory or default_factory())
    names, writer = release_writer(stack_name, clients)
    home = names.primary
    if writer != home:
        raise ReleaseError(
            f"the platform is failed over to {writer.region} ({writer.database} takes writes):"
            f" `pulumi up` now would point DNS back at the fenced {home.region} and replace the"
            f" promoted {writer.database} with a replica of {home.database}; run"
            f" `utp-infra dr failback --stack {stack_name}` first, then reconcile and release"
            " (docs/operations.md#dr-reconcile)"
        )
    return f"{writer.database} in {writer.region} takes writes"
