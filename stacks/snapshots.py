"""The pre-deploy backup of a release: a manual RDS snapshot, and pruning the old ones."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from stacks.dr.aws import ClientFactory, Clients, default_factory
from stacks.release import Backup, PulumiStack, ReleaseError
from stacks.release_dr import release_writer

RELEASE_SNAPSHOTS_KEPT = 10


def rds_snapshot_backup(
    stack: PulumiStack,
    *,
    client_factory: ClientFactory | None = None,
    keep: int = RELEASE_SNAPSHOTS_KEPT,
) -> Backup:
    """A manual RDS snapshot of the writable primary database, started before `up`.

    Which database that is comes from the instances themselves, as `utp-infra dr` leaves them
    (stacks/dr/writer.py): the configured primary region's normally, the promoted DR replica
    after a failover. The snapshot is taken, and old ones pruned, in that database's region.
    When no single database is known to take writes (a failover half-way, a region that does
    not answer) the release stops rather than snapshot a fenced or stale copy. `stack` is the
    factory's argument (release_cli.BackupFactory); the names come from the stack config, the
    way `utp-infra dr` finds them.

    A snapshot is a point-in-time copy from the moment it is requested, so the release does
    not wait the minutes it takes to become `available`; a failed request stops the release.
    The logical `utp backup` runs in the cluster's backup CronJob (the database is private).

    Manual snapshots never expire and a region holds 100 by default, so the stack's release
    snapshots beyond the newest `keep` are deleted after each new one (point-in-time
    recovery and the logical backups cover older history).
    """
    del stack

    def backup(stack_name: str, label: str) -> str:
        # Short timeouts (default_factory): a region that is down fails in seconds.
        clients = Clients(client_factory or default_factory())
        _, writer = release_writer(stack_name, clients, refused="no RDS snapshot taken: ")
        instance = writer.database
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        snapshot = re.sub(r"[^A-Za-z0-9-]", "-", f"utp-{stack_name}-{label}-{stamp}")[:255]
        snapshot = re.sub(r"-+", "-", snapshot).strip("-")
        rds = clients.client("rds", writer.region)
        try:
            reply = rds.create_db_snapshot(
                DBSnapshotIdentifier=snapshot,
                DBInstanceIdentifier=instance,
                Tags=[
                    {"Key": "utp:purpose", "Value": label},
                    {"Key": "utp:stack", "Value": stack_name},
                ],
            )
        except (ClientError, BotoCoreError) as exc:
            raise ReleaseError(
                f"RDS snapshot of {instance} in {writer.region} failed: {exc}"
            ) from None
        status = reply["DBSnapshot"]["Status"]
        if status not in ("creating", "available"):
            raise ReleaseError(f"RDS snapshot {snapshot} is {status}")
        detail = f"rds snapshot {snapshot} of {instance} in {writer.region} ({status})"
        try:
            pruned = _prune_release_snapshots(rds, instance, stack_name, keep)
        except (ClientError, BotoCoreError) as exc:
            # The release's own snapshot exists; old ones can go next time.
            return f"{detail}; pruning old release snapshots failed: {exc}"
        return f"{detail}; {pruned} older release snapshot(s) deleted" if pruned else detail

    return backup


def _prune_release_snapshots(rds: Any, instance: str, stack_name: str, keep: int) -> int:
    """Delete this stack's available release snapshots beyond the newest `keep`."""
    prefixes = tuple(f"utp-{stack_name}-{kind}-" for kind in ("pre-deploy", "pre-rollback"))
    ours = []
    for page in rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=instance, SnapshotType="manual"
    ):
        ours += [s for s in page["DBSnapshots"] if s["DBSnapshotIdentifier"].startswith(prefixes)]
    # The identifiers end in a UTC timestamp; in-progress snapshots are never deleted.
    ours.sort(key=lambda s: s["DBSnapshotIdentifier"].rsplit("-", 1)[-1], reverse=True)
    stale = [s for s in ours[keep:] if s["Status"] == "available"]
    for snapshot in stale:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])
    return len(stale)
