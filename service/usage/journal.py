"""The durable outbox: an append-only SQLite journal of usage events in the data directory.

Appends run on the request path, before the response: one transaction in WAL mode with
`synchronous=NORMAL` is a write(2) into the page cache (about 10 µs, plus ~1.5 µs per row
when several requests' events go in together), so a killed process loses nothing. A background
thread checkpoints (fsyncs) the journal every `sync_interval` seconds, so a machine crash loses
at most that much. Checkpoints never run on the event loop: automatic checkpoints are off, and a
PASSIVE checkpoint neither blocks nor waits for the writer. The WAL restarts from its beginning
(and is cut back to `wal_limit` bytes) only when a checkpoint has copied every frame; under
steady load the writer appends during each pass, so one pass a time never gets there and the
file grew without bound (36 MB after a minute of the benchmark). The thread therefore repeats
the pass at once until it is complete: each copies only what came in during the previous one,
so two or three suffice, and the writer never waits.

Each process claims one journal file with an exclusive `flock`, so replicas sharing a data
directory never flush each other's events; a restarted process reclaims (and drains) the file
its predecessor left behind, and journals of slots nobody holds any more are drained too.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

_SLOTS = 64
WAL_LIMIT = 16 * 2**20
_CHECKPOINT_PASSES = 8
_SCHEMA = "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)"
_INSERT = "INSERT INTO outbox (body) VALUES (?)"
# Events the database refused for their content (not an outage): kept here, out of the way of
# the ones behind them, for an operator to inspect (`utp usage dead-letters`).
_DEAD_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dead_letter (seq INTEGER PRIMARY KEY, body BLOB NOT NULL, "
    "reason TEXT NOT NULL, set_aside_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
)


class Journal:
    """One journal file, owned by this process while it is open."""

    def __init__(
        self,
        path: Path,
        lock: IO[bytes],
        *,
        sync_interval: float = 0.2,
        wal_limit: int = WAL_LIMIT,
    ) -> None:
        self.path = path
        self._lock_file = lock
        self._sync_interval = sync_interval
        self._wal_limit = wal_limit
        self._conn = _connect(path)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._conn.execute(f"PRAGMA journal_size_limit={int(wal_limit)}")
        self._conn.execute(_SCHEMA)
        self._conn.execute(_DEAD_SCHEMA)
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._syncer: threading.Thread | None = None

    @classmethod
    def claim(
        cls, directory: Path, *, sync_interval: float = 0.2, wal_limit: int = WAL_LIMIT
    ) -> Journal:
        """Open the first journal slot no other live process holds."""
        directory.mkdir(parents=True, exist_ok=True)
        for slot in range(_SLOTS):
            lock = _try_lock(directory / f"usage-outbox-{slot}.lock")
            if lock is not None:
                path = directory / f"usage-outbox-{slot}.db"
                return cls(path, lock, sync_interval=sync_interval, wal_limit=wal_limit)
        raise RuntimeError(f"all {_SLOTS} usage outbox slots in {directory} are held")

    @staticmethod
    def orphans(directory: Path) -> list[Journal]:
        """Journals with events that no live process holds (a replica that went away)."""
        found = []
        for db in sorted(directory.glob("usage-outbox-*.db")):
            lock = _try_lock(db.with_suffix(".lock"))
            if lock is None:
                continue
            journal = Journal(db, lock, sync_interval=0)
            if journal.count():
                found.append(journal)
            else:
                journal.close()
        return found

    def start_sync(self) -> None:
        if self._sync_interval > 0 and self._syncer is None:
            self._syncer = threading.Thread(
                target=self._sync_loop, name="usage-outbox-sync", daemon=True
            )
            self._syncer.start()

    def append(self, bodies: list[bytes]) -> list[int]:
        """Append `bodies` in one transaction; their sequence numbers, in order."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            seqs = [conn.execute(_INSERT, (body,)).lastrowid for body in bodies]
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        self._dirty.set()
        return [seq for seq in seqs if seq is not None]

    def read(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        rows = self._conn.execute(
            "SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
        return [(int(seq), bytes(body)) for seq, body in rows]

    def delete_through(self, seq: int) -> None:
        self._conn.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
        self._dirty.set()

    def set_aside(self, body: bytes, reason: str) -> None:
        """Keep a refused event in the dead-letter table (it leaves the outbox with its batch)."""
        self._conn.execute("INSERT INTO dead_letter (body, reason) VALUES (?, ?)", (body, reason))
        self._dirty.set()

    def dead_letters(self) -> list[tuple[int, bytes, str, str]]:
        """(seq, body, reason, set_aside_at) of every event set aside, oldest first."""
        rows = self._conn.execute(
            "SELECT seq, body, reason, set_aside_at FROM dead_letter ORDER BY seq"
        ).fetchall()
        return [(int(seq), bytes(body), str(reason), str(at)) for seq, body, reason, at in rows]

    def count(self) -> int:
        (n,) = self._conn.execute("SELECT count(*) FROM outbox").fetchone()
        return int(n)

    def sync(self, conn: sqlite3.Connection | None = None) -> None:
        """Make everything appended so far survive a machine crash (fsync), now."""
        own = conn is None
        conn = conn or _connect(self.path)
        try:
            for _ in range(_CHECKPOINT_PASSES):
                _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if copied >= frames:
                    break  # complete: the writer's next transaction restarts the WAL
            # PASSIVE may stop short while the writer is busy: fsync the WAL itself too.
            with contextlib.suppress(FileNotFoundError):
                fd = os.open(f"{self.path}-wal", os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        finally:
            if own:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join(timeout=5)
            self._syncer = None
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        # Releasing the lock last: the next owner must not see a half-closed journal.
        self._lock_file.close()

    def _sync_loop(self) -> None:
        conn = _connect(self.path)
        try:
            while not self._stop.wait(self._sync_interval):
                if not self._dirty.is_set():
                    continue
                self._dirty.clear()
                try:
                    self.sync(conn)
                except (sqlite3.Error, OSError) as exc:  # pragma: no cover - disk trouble
                    log.warning("usage outbox sync failed: %s", exc)
        finally:
            conn.close()


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit outside explicit transactions; a committed append survives a process crash.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _try_lock(path: Path) -> IO[bytes] | None:
    handle = path.open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle
