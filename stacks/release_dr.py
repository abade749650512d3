"""What a release asks of the DR state (stacks/dr/writer.py): which region's database takes
writes, and whether a `pulumi up` may run now."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from stacks.config import ConfigError, load_stack_config
from stacks.dr.aws import ClientFactory, Clients, default_factory
from stacks.dr.names import DrNames, RegionNames
from stacks.dr.state import Context
from stacks.dr.writer import NoSingleWriter, database_state, writable_primary
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
    primary region's database must be the one that takes writes, and the DR region's a read
    replica of it, as the program declares them.

    The program always declares the configured primary region primary, so an `up` while failed
    over would re-enable its health check, point DNS back at the fenced region and plan to
    replace the promoted database with a replica (docs/operations.md#dr-reconcile). When no
    single database is known to take writes (a failover or failback half-way, a region that
    does not answer) nobody can say what an `up` would do either.

    After `dr failback` the primary region takes writes again, but until the stack is
    reconciled the DR region's database under the program's name is the standalone that was
    promoted (fenced by the failback): an `up` would replace it with a replica, deleting its
    data where it has no deletion protection. So the release also stops unless that database
    is a replica of the primary's. When it does not exist at all (renamed aside, the reconcile
    not finished) the release stops too, although `writable_primary` rightly names the primary
    the writer then: the reconcile's `pulumi refresh` then `pulumi up` recreate the replica,
    which a release's `up` without the refresh would not, and creating a cross-region replica
    (hours on a large database) is not a release's to wait for."""
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
    _dr_replica_reconciled(Context(names=names, clients=clients))
    return f"{writer.database} in {writer.region} takes writes"


def _dr_replica_reconciled(ctx: Context) -> None:
    """A ReleaseError unless the DR region's database is a read replica of the primary's."""
    home, dr = ctx.names.primary, ctx.names.dr
    try:
        # The same reading `writable_primary` just made; it answered then, and a region that
        # stops answering in between gets the same refusal it would have.
        state = database_state(ctx, dr)
    except (ClientError, BotoCoreError) as exc:
        raise ReleaseError(f"reading the {dr.region} database failed: {exc}") from None
    if state.replicates(home):
        return
    reconcile = (
        f"`pulumi refresh`, then `pulumi up`, which creates a fresh replica of {home.database}"
        " (docs/operations.md#dr-reconcile), then release again"
    )
    if not state.reachable:
        raise ReleaseError(f"{state.describe()}; wait until they answer, then release again")
    if state.role == "absent":
        raise ReleaseError(
            f"{dr.database} in {dr.region} does not exist, so the stack is not reconciled"
            f" after a failback: finish the reconcile first: {reconcile}"
        )
    what = (
        f"a standalone instance{f' fenced at {state.fenced_at}' if state.fenced_at else ''}"
        if state.role == "primary"
        else f"a replica of {state.source}"
    )
    raise ReleaseError(
        f"{dr.database} in {dr.region} is {what}, not a read replica of {home.database}:"
        " `pulumi up` now would replace it with a replica, deleting its data where it has no"
        f" deletion protection; reconcile first: rename it aside (`{dr.database}-old`),"
        f" {reconcile}"
    )
