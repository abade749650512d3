"""The backup manifest: what a backup holds, with sizes and checksums; written last."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

BackupType = Literal["full", "database", "redis", "files"]
ArtifactKind = Literal["database", "redis", "files"]
BACKUP_TYPES: tuple[str, ...] = get_args(BackupType)
ARTIFACT_KINDS: tuple[str, ...] = get_args(ArtifactKind)

# What each backup type contains.
KINDS_OF: dict[str, tuple[str, ...]] = {
    "full": ("database", "redis", "files"),
    "database": ("database",),
    "redis": ("redis",),
    "files": ("files",),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ID = re.compile(
    r"^(full|database|redis|files)/\d{4}/\d{2}/\d{2}/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
)


class ManifestError(ValueError):
    """A manifest is missing, unreadable or does not describe a complete backup."""


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ManifestError(
            f"backup name {name!r} must be 1-128 letters, digits, '.', '_' or '-' "
            "and start with a letter or digit"
        )
    return name


def backup_id(kind: str, name: str, when: datetime) -> str:
    """`<type>/YYYY/MM/DD/<name>`: the backup's identity and its folder in the store."""
    if kind not in BACKUP_TYPES:
        raise ManifestError(f"unknown backup type {kind!r} (one of {', '.join(BACKUP_TYPES)})")
    day = when.astimezone(UTC)
    return f"{kind}/{day:%Y/%m/%d}/{check_name(name)}"


def is_backup_id(text: str) -> bool:
    return bool(_ID.match(text))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """One stored file of a backup. `size` and `sha256` are of the bytes as stored."""

    kind: ArtifactKind
    filename: str
    size: int
    sha256: str
    # How the stored bytes are encoded: "pg_dump-custom" (compressed by pg_dump), "rdb+gzip",
    # "redis-dump+gzip" (DUMP payloads, when the server refuses replication), "tar+gzip".
    format: str
    # Integrity facts for --verify-only: row_counts per table, key_count, file_count ...
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "filename": self.filename,
            "size": self.size,
            "sha256": self.sha256,
            "format": self.format,
            "details": self.details,
        }


@dataclass(frozen=True, kw_only=True)
class Manifest:
    id: str
    type: BackupType
    name: str
    started_at: datetime
    completed_at: datetime
    # Versions of what produced the backup: service, PostgreSQL server, pg_dump, Redis, schema.
    sources: dict[str, str]
    artifacts: tuple[Artifact, ...]
    # Components the type asks for that were not configured (e.g. no Redis), with the reason.
    skipped: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def size(self) -> int:
        return sum(a.size for a in self.artifacts)

    def artifact(self, kind: str) -> Artifact | None:
        return next((a for a in self.artifacts if a.kind == kind), None)

    def to_json(self) -> str:
        body = {
            "format_version": self.format_version,
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "started_at": self.started_at.isoformat(),
            "completed_at": self.completed_at.isoformat(),
            "sources": self.sources,
            "artifacts": [a.as_dict() for a in self.artifacts],
            "skipped": self.skipped,
        }
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, where: str = "manifest") -> Manifest:
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ManifestError(f"{where}: not valid JSON ({exc})") from None
        try:
            if body["format_version"] != FORMAT_VERSION:
                raise ManifestError(
                    f"{where}: format_version {body['format_version']} is not supported "
                    f"(this tool reads {FORMAT_VERSION})"
                )
            kind = body["type"]
            if kind not in BACKUP_TYPES:
                raise ManifestError(f"{where}: unknown backup type {kind!r}")
            artifacts = []
            for raw in body["artifacts"]:
                if raw["kind"] not in ARTIFACT_KINDS:
                    raise ManifestError(f"{where}: unknown artifact kind {raw['kind']!r}")
                if not re.fullmatch(r"[0-9a-f]{64}", str(raw["sha256"])):
                    raise ManifestError(f"{where}: artifact {raw['filename']!r} has no sha256")
                if "/" in raw["filename"] or raw["filename"] in ("", ".", ".."):
                    raise ManifestError(f"{where}: bad artifact file name {raw['filename']!r}")
                artifacts.append(
                    Artifact(
                        kind=raw["kind"],
                        filename=raw["filename"],
                        size=int(raw["size"]),
                        sha256=raw["sha256"],
                        format=str(raw["format"]),
                        details=dict(raw.get("details") or {}),
                    )
                )
            return cls(
                id=str(body["id"]),
                type=kind,
                name=str(body["name"]),
                started_at=_aware(body["started_at"]),
                completed_at=_aware(body["completed_at"]),
                sources={str(k): str(v) for k, v in dict(body["sources"]).items()},
                artifacts=tuple(artifacts),
                skipped={str(k): str(v) for k, v in dict(body.get("skipped") or {}).items()},
            )
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"{where}: incomplete manifest (missing or bad {exc})") from None


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
