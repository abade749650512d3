"""The backups in a store: only folders whose manifest was written (last) count as backups."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from service.ops.manifest import MANIFEST_NAME, Manifest, ManifestError, is_backup_id
from service.ops.storage import Storage, StoredObject


@dataclass(frozen=True)
class Backup:
    manifest: Manifest
    objects: tuple[StoredObject, ...]
    # Empty when every artifact the manifest names is stored with its recorded size.
    problems: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def good(self) -> bool:
        return not self.problems

    @property
    def created_at(self) -> datetime:
        return self.manifest.started_at


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
        named = [b for b in self.backups if b.manifest.name == ref]
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
        backups.append(Backup(manifest, tuple(objects), tuple(problems)))
    backups.sort(key=lambda b: (b.created_at, b.id))
    orphans.sort(key=lambda o: o.id)
    return Catalog(tuple(backups), tuple(orphans))
