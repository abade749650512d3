"""Where backups live: S3 (SSE-KMS, multipart) or a local directory with the same layout."""

from __future__ import annotations

import functools
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from service.settings import OpsSettings, Settings

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
MIB = 1024 * 1024


class StorageError(RuntimeError):
    """The backup store could not be reached or refused an operation."""


class ArchivedError(StorageError):
    """The object is in an archive storage class and has no restored copy to read (yet)."""


# S3 classes whose objects cannot be read until `RestoreObject` has made a temporary copy.
# (GLACIER_IR is read directly; the lifecycle never moves backups to Intelligent-Tiering.)
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

RestoreState = Literal["not-requested", "in-progress", "restored"]


@dataclass(frozen=True)
class StoredObject:
    key: str  # relative to the store's prefix
    size: int
    modified: datetime
    storage_class: str = "STANDARD"

    @property
    def archived(self) -> bool:
        return self.storage_class in ARCHIVE_CLASSES


class Storage(Protocol):
    @property
    def location(self) -> str: ...

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def list(self, prefix: str = "") -> Iterator[StoredObject]: ...

    def delete(self, keys: Iterable[str]) -> None: ...

    def restore_state(self, key: str) -> RestoreState: ...

    def request_restore(self, key: str, *, days: int, tier: str) -> None: ...


class LocalStorage:
    """A directory; used by `--no-upload` and when no bucket is configured."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def location(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise StorageError(f"{key!r} is outside the backup directory")
        return path

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(path, partial)
        os.replace(partial, target)
        if progress:
            progress(path.stat().st_size)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, target)

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        source = self._path(key)
        if not source.is_file():
            raise StorageError(f"{key}: no such object in {self.location}")
        shutil.copyfile(source, path)
        if progress:
            progress(path.stat().st_size)

    def get_bytes(self, key: str) -> bytes:
        source = self._path(key)
        if not source.is_file():
            raise StorageError(f"{key}: no such object in {self.location}")
        return source.read_bytes()

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.name.endswith(".partial"):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                yield StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            parent = path.parent
            while parent != self.root.resolve() and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent

    # A directory has no archive classes: every object is readable now.
    def restore_state(self, key: str) -> RestoreState:
        return "restored"

    def request_restore(self, key: str, *, days: int, tier: str) -> None:
        raise StorageError(f"{key}: a local directory holds no archived objects to restore")


class S3Storage:
    """An S3 bucket (or an S3-compatible endpoint). Every object is written with SSE-KMS."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        kms_key_id: str = "",
        endpoint_url: str = "",
        region: str = "us-east-1",
        multipart_threshold: int = 64 * MIB,
        multipart_chunk: int = 16 * MIB,
        client: Any = None,
    ) -> None:
        import boto3  # type: ignore[import-untyped]
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        if not bucket:
            raise StorageError("no backup bucket: set UTP_BACKUP_BUCKET or pass --bucket")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.kms_key_id = kms_key_id
        self.client = client or boto3.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url or None,
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_chunk, 5 * MIB),
            max_concurrency=4,
        )

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _encryption(self) -> dict[str, str]:
        extra = {"ServerSideEncryption": "aws:kms"}
        if self.kms_key_id:
            extra["SSEKMSKeyId"] = self.kms_key_id
        return extra

    def _call(
        self, what: str, fn: Callable[[], Any], *, tolerate: frozenset[str] = frozenset()
    ) -> Any:
        """`fn()`, with S3's errors as StorageError; error codes in `tolerate` return None."""
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            return fn()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in tolerate:
                return None
            if error.get("Code") == "InvalidObjectState":
                raise ArchivedError(
                    f"{what} in {self.location}: the object is archived ("
                    f"{error.get('StorageClass') or 'GLACIER/DEEP_ARCHIVE'}); restore it first "
                    "(`utp restore <id>` starts that)"
                ) from None
            raise StorageError(
                f"{what} in {self.location}: {error.get('Code', '?')} {error.get('Message', '')}"
            ) from None
        except BotoCoreError as exc:
            raise StorageError(f"{what} in {self.location}: {exc}") from None

    def put_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        self._call(
            f"upload {key}",
            lambda: self.client.upload_file(
                str(path),
                self.bucket,
                self.prefix + key,
                ExtraArgs=self._encryption(),
                Config=self.transfer,
                Callback=progress,
            ),
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call(
            f"write {key}",
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=self.prefix + key,
                Body=data,
                ContentType="application/json",
                **self._encryption(),
            ),
        )

    def get_file(self, key: str, path: Path, progress: Progress | None = None) -> None:
        self._call(
            f"download {key}",
            lambda: self.client.download_file(
                self.bucket, self.prefix + key, str(path), Config=self.transfer, Callback=progress
            ),
        )

    def get_bytes(self, key: str) -> bytes:
        body = self._call(
            f"read {key}",
            lambda: self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"],
        )
        return bytes(body.read())

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(
            "list",
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)),
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredObject(
                    item["Key"][len(self.prefix) :],
                    int(item["Size"]),
                    item["LastModified"],
                    item.get("StorageClass") or "STANDARD",
                )

    def delete(self, keys: Iterable[str]) -> None:
        batch = [{"Key": self.prefix + k} for k in keys]
        for start in range(0, len(batch), 1000):
            chunk = batch[start : start + 1000]
            request = {"Objects": chunk, "Quiet": True}
            reply = self._call(
                "delete",
                functools.partial(self.client.delete_objects, Bucket=self.bucket, Delete=request),
            )
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise StorageError(
                    f"delete in {self.location}: {first.get('Key')}: {first.get('Message')}"
                )

    def restore_state(self, key: str) -> RestoreState:
        """From HeadObject's `x-amz-restore` (absent: never requested, or the copy expired)."""
        head = self._call(
            f"inspect {key}",
            lambda: self.client.head_object(Bucket=self.bucket, Key=self.prefix + key),
        )
        restore = str(head.get("Restore") or "")
        if not restore:
            return "not-requested"
        return "in-progress" if 'ongoing-request="true"' in restore else "restored"

    def request_restore(self, key: str, *, days: int, tier: str) -> None:
        """Ask S3 for a temporary copy (`days` long); asking again while one is on its way is
        not an error."""
        self._call(
            f"restore {key}",
            lambda: self.client.restore_object(
                Bucket=self.bucket,
                Key=self.prefix + key,
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},
            ),
            tolerate=frozenset({"RestoreAlreadyInProgress"}),
        )


def local_dir(settings: Settings) -> Path:
    ops = settings.ops
    return (
        Path(ops.backup_local_dir) if ops.backup_local_dir else settings.server.data_dir / "backups"
    )


def open_storage(
    settings: Settings, *, bucket: str | None = None, prefix: str | None = None, local: bool = False
) -> Storage:
    """The configured store; `local=True` (or no bucket anywhere) means the local directory."""
    ops: OpsSettings = settings.ops
    chosen = bucket if bucket is not None else ops.backup_bucket
    if local or not chosen:
        return LocalStorage(local_dir(settings))
    return S3Storage(
        bucket=chosen,
        prefix=prefix if prefix is not None else ops.backup_prefix,
        kms_key_id=ops.backup_kms_key_id,
        endpoint_url=ops.backup_s3_endpoint_url,
        region=ops.backup_s3_region,
        multipart_threshold=ops.backup_multipart_threshold_mb * MIB,
        multipart_chunk=ops.backup_multipart_chunk_mb * MIB,
    )
