"""Application files: the data directory as a tar.gz, SQLite databases copied consistently."""

from __future__ import annotations

import sqlite3
import tarfile
import tempfile
from pathlib import Path
from typing import Any

SKIP_SUFFIXES = (".db-wal", ".db-shm", "-journal", ".partial")


class FilesError(RuntimeError):
    """Archiving or extracting the application files failed."""


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def archive(data_dir: Path, out: Path, *, exclude: tuple[Path, ...] = ()) -> dict[str, Any]:
    """tar.gz of `data_dir`; SQLite files go through the online backup API (no torn pages)."""
    if not data_dir.is_dir():
        raise FilesError(f"the data directory {data_dir} does not exist")
    skipped = tuple(p.resolve() for p in exclude)
    count = 0
    total = 0
    with tarfile.open(out, "w:gz", compresslevel=6) as tar, tempfile.TemporaryDirectory() as tmp:
        for path in sorted(data_dir.rglob("*")):
            resolved = path.resolve()
            if any(resolved == s or resolved.is_relative_to(s) for s in skipped):
                continue
            if not path.is_file() or path.is_symlink() or path.name.endswith(SKIP_SUFFIXES):
                continue
            arcname = path.relative_to(data_dir).as_posix()
            source = path
            if _is_sqlite(path):
                source = Path(tmp) / f"snapshot-{count}.db"
                with sqlite3.connect(path) as live, sqlite3.connect(source) as copy:
                    live.backup(copy)
            tar.add(source, arcname=arcname, recursive=False)
            count += 1
            total += source.stat().st_size
    return {"file_count": count, "bytes": total}


def members(path: Path) -> list[str]:
    try:
        with tarfile.open(path, "r:gz") as tar:
            return [m.name for m in tar.getmembers() if m.isfile()]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FilesError(f"the files archive is unreadable: {exc}") from None


def extract(path: Path, target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(path, "r:gz") as tar:
            files = [m for m in tar.getmembers() if m.isfile()]
            # The "data" filter refuses absolute paths, `..`, links out of the tree, devices.
            tar.extractall(target, members=files, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FilesError(f"extracting the files archive into {target} failed: {exc}") from None
    return len(files)
