"""Which region's database takes writes now, read from what `dr failover` and `dr failback`
leave on the instances: a read replica has a source, a promoted one has none, and a database
they took out of service carries the fence tag. The stack config and outputs always name the
configured primary region, whichever one holds the writable database."""

from __future__ import annotations

from dataclasses import dataclass

from stacks.dr.aws import RegionUnreachable
from stacks.dr.names import RegionNames
from stacks.dr.state import (
    Context,
    db_instance,
    fenced_at,
    names_database,
    replica_source,
    role_of,
)


class NoSingleWriter(Exception):
    """Not exactly one database is known to take writes (a failover or failback under way or
    stopped half-way, a region that does not answer): acting on either would be a guess."""


@dataclass(frozen=True)
class DatabaseState:
    region: RegionNames
    reachable: bool
    role: str = "unknown"  # primary, replica, absent; unknown when the region does not answer
    source: str | None = None  # a replica's source instance
    fenced_at: str | None = None

    @property
    def writable(self) -> bool:
        return self.role == "primary" and self.fenced_at is None

    def replicates(self, source: RegionNames) -> bool:
        """A read replica of `source`'s database, as the program declares the DR region's."""
        return self.role == "replica" and names_database(self.source, source)

    def describe(self) -> str:
        where = f"{self.region.database} in {self.region.region}"
        if not self.reachable:
            return f"{where}: {self.region.region} APIs do not answer"
        if self.role == "replica":
            return f"{where}: replica of {self.source}"
        if self.fenced_at is not None:
            return f"{where}: {self.role}, fenced at {self.fenced_at}"
        return f"{where}: {self.role}"


def database_state(ctx: Context, region: RegionNames) -> DatabaseState:
    try:
        instance = db_instance(ctx, region)
        fenced = fenced_at(ctx, region.region, instance) if instance else None
    except RegionUnreachable:
        return DatabaseState(region, reachable=False)
    source = replica_source(instance) if instance else None
    return DatabaseState(region, True, role_of(instance), source, fenced)


def writable_primary(ctx: Context) -> RegionNames:
    """The region whose database is the writable primary: standalone and not fenced.

    The configured DR region's database is standalone and unfenced only after `dr failover`
    promoted it (the program creates it as a replica, and `dr failback` fences it), so it is
    the writer even while the configured primary region does not answer. The configured
    primary's database is trusted only when the DR region answers: otherwise a failover may
    have promoted the replica while the old primary, back before its fencing, still looks
    writable."""
    home, dr = ctx.names.primary, ctx.names.dr
    states = {r.region: database_state(ctx, r) for r in (home, dr)}
    seen = "; ".join(s.describe() for s in states.values())
    writers = [s for s in states.values() if s.writable]
    if len(writers) == 2:
        raise NoSingleWriter(
            f"both databases take writes ({seen}): a failover deferred fencing {home.database}"
            " while its region was down; re-run `utp-infra dr failover` to fence it"
        )
    if len(writers) == 1:
        writer = writers[0].region
        if writer == home and not states[dr.region].reachable:
            raise NoSingleWriter(
                f"{dr.region} APIs do not answer, so whether a failover promoted {dr.database}"
                f" is unknown ({seen}); wait until they answer (`utp-infra dr status`)"
            )
        return writer
    if all(s.role == "absent" for s in states.values()):
        raise NoSingleWriter(f"no database exists ({seen}): is the stack deployed?")
    if not all(s.reachable for s in states.values()):
        raise NoSingleWriter(
            f"no database is known to take writes ({seen}); wait until the region answers, or"
            " fail over (`utp-infra dr status`, `dr failover`, docs/operations.md#dr-failover)"
        )
    raise NoSingleWriter(
        f"no database takes writes ({seen}): a failover or failback is under way or stopped"
        " half-way; finish it (`utp-infra dr status`, then `dr failover` or `dr failback`,"
        " docs/operations.md#dr-failover)"
    )
