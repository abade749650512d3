"""The backups in a store: only folders whose manifest was written (last) count as backups.

Backups age into archive storage classes (the bucket's lifecycle moves them to GLACIER at 90
days and DEEP_ARCHIVE at 365). Such objects are listed but cannot be read until S3 has restored
a temporary copy, so a backup whose manifest is archived is catalogued from its listing alone:
its id names its type, day and name, its manifest's timestamp says when it completed, and the
manifest's presence says it completed. What only the manifest knows (artifacts, checksums) is
read once the backup is restored (`utp restore <id>` starts that).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from service.ops.manifest import MANIFEST_NAME, Manifest, ManifestError, is_backup_id
from service.ops.storage import Storage, StoredObject


@dataclass(frozen=True)
class Backup:
    id: str
    # None while manifest.json itself is archived without a restored copy.
    manifest: Manifest | None
    objects: tuple[StoredObject, ...]
    # Empty when every artifact the manifest names is stored with its recorded size (not
    # checkable while the manifest is archived).
    problems: tuple[str, ...]
    # Keys in an archive class with no readable restored copy; those of them being restored.
    unreadable: tuple[str, ...] = ()
    restoring: tuple[str, ...] = ()

    @property
    def good(self) -> bool:
        return not self.problems

    @property
    def type(self) -> str:
        return self.manifest.type if self.manifest else self.id.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest else self.id.rsplit("/", 1)[1]

    @property
    def created_at(self) -> datetime:
        """When it started; while the manifest is archived, the start of the UTC day its id
        names. (Not the objects' LastModified: a copy or a replica gets a new one.)"""
        if self.manifest:
            return self.manifest.started_at
        year, month, day = (int(part) for part in self.id.split("/")[1:4])
        return datetime(year, month, day, tzinfo=UTC)

    @property
    def completed_at(self) -> datetime:
        if self.manifest:
            return self.manifest.completed_at
        # The manifest is written last; lifecycle transitions keep LastModified.
        return next(o.modified for o in self.objects if o.key.endswith("/" + MANIFEST_NAME))

    @property
    def size(self) -> int:
        if self.manifest:
            return self.manifest.size
        return sum(o.size for o in self.objects if not o.key.endswith("/" + MANIFEST_NAME))

    @property
    def storage_class(self) -> str:
        """The storage class of its objects, `A+B` while a transition is half done."""
        return "+".join(sorted({o.storage_class for o in self.objects}))

    @property
    def restorable_now(self) -> bool:
        return not self.unreadable


@dataclass(frozen=True)
class Orphan:
    """A backup folder without a manifest: a backup in progress, or one that died."""

    id: str
    objects: tuple[StoredObject, ...]

    @property
    def newest(self) -> datetime:
        return max(o.modified for o in self.objects)


@dataclass(frozen=True)
class Catalog:
    backups: tuple[Backup, ...]  # oldest first
    orphans: tuple[Orphan, ...]

    def find(self, ref: str) -> Backup:
        """A backup by id, by unique name, or `latest` (the newest good one)."""
        if ref == "latest":
            good = [b for b in self.backups if b.good]
            if not good:
                raise ManifestError("there is no complete backup in this store")
            return good[-1]
        exact = [b for b in self.backups if b.id == ref.strip("/")]
        if exact:
            return exact[0]
        named = [b for b in self.backups if b.name == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            ids = ", ".join(b.id for b in named)
            raise ManifestError(f"{ref!r} names several backups ({ids}); give the full id")
        if any(o.id == ref.strip("/") for o in self.orphans):
            raise ManifestError(
                f"{ref} has no manifest: the backup is incomplete (still running, or it failed)"
            )
        raise ManifestError(f"no backup {ref!r} (see `utp backups list`)")


def load_catalog(storage: Storage) -> Catalog:
    folders: dict[str, list[StoredObject]] = defaultdict(list)
    for obj in storage.list():
        parts = obj.key.split("/")
        if len(parts) != 6:
            continue
        folder = "/".join(parts[:5])
        if is_backup_id(folder):
            folders[folder].append(obj)

    backups: list[Backup] = []
    orphans: list[Orphan] = []
    for folder, objects in folders.items():
        by_name = {o.key.rsplit("/", 1)[1]: o for o in objects}
        if MANIFEST_NAME not in by_name:
            orphans.append(Orphan(folder, tuple(objects)))
            continue
        where = f"{folder}/{MANIFEST_NAME}"
        states = {o.key: storage.restore_state(o.key) for o in objects if o.archived}
        unreadable = tuple(sorted(k for k, state in states.items() if state != "restored"))
        restoring = tuple(sorted(k for k, state in states.items() if state == "in-progress"))
        if where in unreadable:
            backups.append(Backup(folder, None, tuple(objects), (), unreadable, restoring))
            continue
        try:
            manifest = Manifest.from_json(storage.get_bytes(where), where=where)
        except ManifestError:
            orphans.append(Orphan(folder, tuple(objects)))
            continue
        if manifest.id != folder:
            orphans.append(Orphan(folder, tuple(objects)))
            continue
        problems = []
        for artifact in manifest.artifacts:
            stored = by_name.get(artifact.filename)
            if stored is None:
                problems.append(f"{artifact.filename} is missing")
            elif stored.size != artifact.size:
                problems.append(
                    f"{artifact.filename} is {stored.size} bytes, the manifest says {artifact.size}"
                )
        backups.append(
            Backup(folder, manifest, tuple(objects), tuple(problems), unreadable, restoring)
        )
    backups.sort(key=lambda b: (b.created_at, b.id))
    orphans.sort(key=lambda o: o.id)
    return Catalog(tuple(backups), tuple(orphans))
