"""The backup side of `utp health-check`: when the newest complete backup was written.

The check itself (probing a running deployment, the report and its renderings) is in
ops_common/healthcheck.py, shared with the health gate of `utp-infra deploy`.
"""

from __future__ import annotations

from datetime import datetime

from service.ops.manifest import MANIFEST_NAME, is_backup_id
from service.ops.storage import Storage


def newest_backup_time(storage: Storage) -> datetime | None:
    """When the newest manifest was written, from the listing alone (no object reads)."""
    newest: datetime | None = None
    for obj in storage.list():
        folder, _, name = obj.key.rpartition("/")
        if name == MANIFEST_NAME and is_backup_id(folder):
            newest = obj.modified if newest is None else max(newest, obj.modified)
    return newest
