"""Throwaway PostgreSQL and Redis servers on free loopback ports, for the test session."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def real_clock_env() -> dict[str, str]:
    """This environment without libfaketime: `make test-calendar` fakes the wall clock for the
    code under test, while the database and Redis servers keep the real one (Redis's allocator
    does not survive libfaketime, and no query of ours reads the server's clock)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKETIME")}
    preload = [p for p in env.pop("LD_PRELOAD", "").split() if "faketime" not in p]
    if preload:
        env["LD_PRELOAD"] = " ".join(preload)
    return env


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in a temp dir; as root it runs as `postgres` (initdb refuses root)."""

    bindir: Path
    port: int
    datadir: Path
    user: str | None

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[PostgresServer]:
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        with cls._cluster(bindir) as server:
            server._run(
                "initdb",
                *("-D", str(server.datadir), "-A", "trust", "-U", "postgres", "-E", "UTF8"),
                "--no-sync",
            )
            server.start()
            yield server

    @classmethod
    @contextlib.contextmanager
    def _cluster(cls, bindir: Path) -> Iterator[PostgresServer]:
        """A server on a free port with its data directory in a temp dir, stopped and removed
        afterwards whatever happened (a cluster that never started has nothing to stop)."""
        user = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="utp-pg-"))
        if user:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        server = cls(bindir=bindir, port=free_port(), datadir=root / "data", user=user)
        try:
            yield server
        finally:
            if (server.datadir / "postmaster.pid").exists():
                with contextlib.suppress(subprocess.CalledProcessError):
                    server.stop()
            shutil.rmtree(root, ignore_errors=True)

    @contextlib.contextmanager
    def standby(self) -> Iterator[PostgresServer]:
        """A hot standby streaming from this server, as a cross-region read replica is: a base
        backup with `-R` (standby.signal + primary_conninfo), started on its own port."""
        with self._cluster(self.bindir) as standby:
            standby._run(
                "pg_basebackup",
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
                *("-D", str(standby.datadir), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
            )
            standby.start()
            yield standby

    def promote(self) -> None:
        """Promote a standby to a read-write primary (what promoting an RDS replica does)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "-t", "30", "promote")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd="/tmp", env=real_clock_env())

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "-l",
            str(self.datadir / "log"),
            "start",
        )
        _wait_port(self.port)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def require_password(self, role: str) -> None:
        """`role` must log in over TCP with its password (SCRAM), as on RDS; everyone else keeps
        `trust`. The first matching pg_hba line wins, so the new line goes first."""
        hba = self.datadir / "pg_hba.conf"
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
        self._run("pg_ctl", "-D", str(self.datadir), "reload")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@dataclass
class Replicated:
    """A primary and a hot standby streaming from it: a region and its cross-region replica."""

    primary: PostgresServer
    standby: PostgresServer

    async def caught_up(self) -> None:
        """Wait (up to 20 s) until the standby has replayed everything the primary wrote."""
        primary = await asyncpg.connect(self.primary.dsn())
        try:
            target = await primary.fetchval("SELECT pg_current_wal_lsn()")
        finally:
            await primary.close()
        standby = await asyncpg.connect(self.standby.dsn())
        try:
            query = "SELECT pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())"
            async with asyncio.timeout(20):
                while True:
                    if await standby.fetchval(query, target) <= 0:
                        return
                    await asyncio.sleep(0.05)
        finally:
            await standby.close()


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[RedisServer]:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server not found (apt-get install redis-server)")
        server = cls(port=free_port())
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=real_clock_env(),
        )
        _wait_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
