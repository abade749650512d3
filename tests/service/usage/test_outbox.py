"""The durable outbox: a database outage, a killed process or a repeated batch lose and
double nothing; every translation request (hits too) lands in the ledger exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from service.container import services_of
from service.db.migrate import upgrade
from service.db.models import UsageDaily, UsageEvent, Workspace
from service.db.session import create_engine, session_factory
from service.usage.journal import Journal
from service.usage.recorder import Event, UsageRecorder
from tests.servers import PostgresServer, free_port
from tests.service.usage.conftest import Starter, eventually, make_settings

pytestmark = pytest.mark.postgres


async def _count(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.scalar(sa.select(sa.func.count()).select_from(UsageEvent))
            ids = await conn.scalar(sa.select(sa.func.count(sa.distinct(UsageEvent.id))))
    finally:
        await engine.dispose()
    return int(rows or 0), int(ids or 0)


async def test_postgres_stopped_mid_stream_every_event_arrives_once(
    start: Starter, postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    app = await start(make_settings(tmp_path, postgres_url))
    texts = [f"Message number {i}" for i in range(10)]
    sent = 0
    for text in texts + texts[:5]:  # misses, then cache hits
        assert (await app.translate(text)).status_code == 200
        sent += 1
    await eventually(lambda: _equals(postgres_url, sent))

    postgres_server.stop()
    try:
        during = [await app.translate(t) for t in [*texts[5:], "New while down"]]
        sent += len(during)
        assert [r.status_code for r in during] == [200] * len(during)
        await asyncio.sleep(0.3)  # the flusher fails and backs off meanwhile
        assert app.services.recorder.pending == len(during)
    finally:
        postgres_server.start()
    await eventually(lambda: _equals(postgres_url, sent), seconds=40)
    assert await _count(postgres_url) == (sent, sent)
    assert app.services.recorder.pending == 0
    async with services_of(app.litestar).sessions() as session:
        daily = await session.scalar(sa.select(sa.func.sum(UsageDaily.requests)))
    assert daily == sent  # the rollups counted each event once too


async def _equals(url: str, n: int) -> bool:
    return (await _count(url))[0] == n


def _serve(data_dir: Path, url: str, port: int, key: str, flush: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "UTP_ENVIRONMENT": "test",
        "UTP_DATA_DIR": str(data_dir),
        "UTP_DATABASE_URL": url,
        "UTP_BOOTSTRAP_API_KEY": key,
        "UTP_USAGE_FLUSH_INTERVAL_SECONDS": str(flush),
        "UTP_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.service.usage.crash_app", str(port)],
        cwd=Path(__file__).resolve().parents[3],
        env=env,
    )


async def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the app exited"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health/live")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the app did not start")


async def test_killed_process_loses_nothing(postgres_url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    key = "utp-crash-test-bootstrap-key-" + uuid.uuid4().hex
    port = free_port()
    # The first process never flushes on its own: everything it records sits in its outbox.
    first = _serve(tmp_path, postgres_url, port, key, flush=3600)
    try:
        await _wait_ready(port, first)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            statuses = [
                (
                    await client.post(
                        "/api/v1/translate",
                        json={"text": f"Crash text {i % 7}", "target_lang": "es"},
                        headers={"X-API-Key": key},
                    )
                ).status_code
                for i in range(25)
            ]
        assert statuses == [200] * 25
    finally:
        first.send_signal(signal.SIGKILL)  # no shutdown hook runs
        first.wait(10)
    assert await _count(postgres_url) == (0, 0)

    second = _serve(tmp_path, postgres_url, port, key, flush=0.05)
    try:
        await _wait_ready(port, second)
        await eventually(lambda: _equals(postgres_url, 25))
        await asyncio.sleep(0.3)
        assert await _count(postgres_url) == (25, 25)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)


async def test_a_batch_written_twice_counts_once(tmp_path: Path) -> None:
    """A crash between the database commit and the journal delete replays the batch."""
    await _written_twice_counts_once(f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}", tmp_path)


async def test_a_batch_written_twice_counts_once_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    """The same on PostgreSQL, whose ledger insert takes another path (arrays and unnest)."""
    await _written_twice_counts_once(postgres_url, tmp_path)


async def _written_twice_counts_once(url: str, tmp_path: Path) -> None:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    workspace = uuid.uuid4()
    async with sessions.begin() as session:
        session.add(Workspace(id=workspace, name="w"))
    events = [
        Event(workspace_id=workspace, target_lang="es", outcome="translated", cost=Decimal("0.001"))
        for _ in range(5)
    ]
    journal = Journal.claim(tmp_path / "outbox")
    recorder = UsageRecorder(sessions, journal=journal)
    for event in events:
        recorder.record(event)
    await recorder.recorded()
    # The write commits, then the process "dies" before deleting from the journal.
    await recorder._write(events)
    journal.close()

    again = UsageRecorder(sessions, journal=Journal.claim(tmp_path / "outbox"))
    assert again.pending == 5
    await again.drain()
    async with sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)) == 5
        daily = (await session.execute(sa.select(UsageDaily))).scalars().one()
    assert (daily.requests, daily.cost_nanos) == (5, 5_000_000)
    assert again.pending == 0
    await again.stop()
    await engine.dispose()


async def test_events_of_a_deleted_workspace_do_not_block_the_others(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    alive = uuid.uuid4()
    async with sessions.begin() as session:
        session.add(Workspace(id=alive, name="alive"))
    recorder = UsageRecorder(sessions, journal=Journal.claim(tmp_path))
    for i in range(6):
        recorder.record(
            Event(workspace_id=alive if i % 2 else uuid.uuid4(), target_lang="es", outcome="cached")
        )
    await recorder.drain()
    async with sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)) == 3
    assert recorder.pending == 0
    await recorder.stop()
    await engine.dispose()


async def test_another_replicas_abandoned_outbox_is_drained(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    workspace = uuid.uuid4()
    async with sessions.begin() as session:
        session.add(Workspace(id=workspace, name="w"))
    # Two replicas share the directory; each claims its own journal.
    first = Journal.claim(tmp_path)
    second = Journal.claim(tmp_path)
    assert first.path != second.path
    gone = UsageRecorder(sessions, journal=second)
    for _ in range(4):
        gone.record(Event(workspace_id=workspace, target_lang="fr", outcome="translated"))
    await gone.recorded()
    second.close()  # that replica went away for good
    survivor = UsageRecorder(sessions, journal=first, orphans=Journal.orphans(tmp_path))
    assert survivor.pending == 4
    await survivor.drain()
    async with sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)) == 4
    await survivor.stop()
    await engine.dispose()


async def test_concurrent_requests_share_journal_writes(tmp_path: Path) -> None:
    """Events recorded by requests in the same loop iteration are journalled together; each
    request's `recorded()` returns once its events are in, even if another waiter is cancelled."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'utp.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    journal = Journal.claim(tmp_path / "outbox")
    recorder = UsageRecorder(session_factory(engine), journal=journal)
    workspace = uuid.uuid4()

    async def request(i: int) -> int:
        recorder.record(Event(workspace_id=workspace, target_lang="es", outcome="cached"))
        await recorder.recorded()
        return journal.count()

    doomed = asyncio.create_task(request(-1))
    others = [asyncio.create_task(request(i)) for i in range(20)]
    await asyncio.sleep(0)
    doomed.cancel()
    seen = await asyncio.gather(*others)
    assert seen == [21] * 20  # every waiter saw all 21 events on disk, written as one batch
    assert recorder.pending == 21
    await recorder.stop()
    await engine.dispose()


def test_journal_wal_stays_bounded(tmp_path: Path) -> None:
    """The outbox's WAL does not keep the disk it grew to: once a sync has copied it into the
    journal, the next append restarts it and cuts the file back to its limit; every appended
    event is still there."""
    journal = Journal.claim(tmp_path, sync_interval=0, wal_limit=256 * 1024)
    wal = Path(f"{journal.path}-wal")
    for i in range(400):
        journal.append([f"event {i} ".encode() * 40])
    assert wal.stat().st_size > 256 * 1024
    journal.sync()
    journal.append([b"one more"])
    assert wal.stat().st_size <= 256 * 1024
    assert journal.count() == 401
    assert journal.read(0, 1) == [(1, b"event 0 " * 40)]
    journal.close()
