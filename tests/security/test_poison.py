"""Issue 24, item 1: one request with text PostgreSQL cannot store must not stall the usage
ledger (or the translation memory) of every tenant, nor answer 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.db.migrate import upgrade
from service.db.models import TranslationMemory, UsageEvent
from service.db.session import create_engine, session_factory
from service.observability import metrics
from service.translation.cache import CachedTranslation, MemoryLRU, TranslationCache
from service.usage.commands import dead_letters
from service.usage.journal import Journal
from service.usage.recorder import Event, UsageRecorder
from tests.service.usage.conftest import Starter, eventually, make_settings

pytestmark = pytest.mark.postgres


def _dead(store: str) -> float:
    return metrics.DEAD_LETTERS.labels(store=store)._value.get()


async def test_nul_in_a_text_field_is_a_422_and_the_ledger_keeps_flowing(
    start: Starter, postgres_url: str, tmp_path: Path
) -> None:
    app = await start(make_settings(tmp_path, postgres_url))
    poisoned = await app.translate("Good morning", channel_id="ch\u0000x")
    assert poisoned.status_code == 422, poisoned.text
    error = poisoned.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == "channel_id"
    for body in (
        {"text": "Good\u0000 morning", "target_lang": "es"},
        {"texts": ["fine", "bad\u0000"], "target_lang": "es"},
    ):
        route = "/api/v1/translate" if "text" in body else "/api/v1/translate/batch"
        answer = await app.client.post(route, json=body, headers=app.headers)
        assert answer.status_code == 422, answer.text
    assert (await app.translate("Good evening")).status_code == 200

    async def written() -> bool:
        return len(await app.events()) == 1

    await eventually(written)
    assert app.services.recorder.pending == 0


async def test_nul_in_admin_fields_is_a_422_not_a_500(
    start: Starter, postgres_url: str, tmp_path: Path
) -> None:
    app = await start(make_settings(tmp_path, postgres_url))
    calls = [
        ("POST", "/api/v1/glossaries", {"name": "team\u0000glossary"}),
        (
            "PUT",
            "/api/v1/budgets",
            {"scope": "channel", "subject": "GEN\u0000", "monthly_limit": 5},
        ),
        ("PUT", "/api/v1/budgets", {"scope": "user", "subject": "u\u0000", "monthly_limit": 5}),
    ]
    for method, route, body in calls:
        answer = await app.client.request(method, route, json=body, headers=app.headers)
        assert answer.status_code == 422, (route, answer.text)
        assert answer.json()["error"]["details"]["reason"] == "nul_character"
    for route in ("/api/v1/glossaries?channel_id=a%00b", "/api/v1/channels/a%00b"):
        answer = await app.client.get(route, headers=app.headers)
        assert answer.status_code == 422, (route, answer.text)


async def test_a_usage_event_the_database_refuses_is_set_aside_and_the_rest_flow_on(
    postgres_url: str, tmp_path: Path
) -> None:
    """Independently of the edge: an event PostgreSQL refuses for its content (here NUL, as a
    future code path might let through) goes to the dead-letter table, and the events behind
    it, of every workspace, are written."""
    await asyncio.to_thread(upgrade, postgres_url)
    engine = create_engine(postgres_url)
    sessions = session_factory(engine)
    from service.accounts.keys import create_workspace

    async with sessions.begin() as session:
        first = (await create_workspace(session, "first")).workspace_id
        second = (await create_workspace(session, "second")).workspace_id
    journal = Journal.claim(tmp_path)
    recorder = UsageRecorder(sessions, journal=journal, batch_size=50)
    before = _dead("usage")
    try:
        recorder.record(Event(workspace_id=first, target_lang="es", outcome="translated"))
        recorder.record(
            Event(workspace_id=first, target_lang="es", outcome="translated", channel_id="c\x00")
        )
        for _ in range(3):
            recorder.record(Event(workspace_id=second, target_lang="fr", outcome="cached"))
        await recorder.drain()
        async with sessions() as session:
            stored = await session.scalar(sa.select(sa.func.count()).select_from(UsageEvent))
        assert stored == 4
        assert recorder.pending == 0
        assert journal.count() == 0
        [(_, body, reason, _)] = journal.dead_letters()
        assert b"c\x00" in body and "SQLSTATE" in reason
        assert _dead("usage") == before + 1
        # What an operator reads with `utp usage dead-letters`.
        [letter] = dead_letters(tmp_path)
        assert letter["event"]["channel_id"] == "c\x00" and "SQLSTATE" in letter["reason"]
        # A restart does not replay it: the outbox is empty, the dead letter stays put.
        recorder.record(Event(workspace_id=second, target_lang="de", outcome="translated"))
        await recorder.drain()
        async with sessions() as session:
            stored = await session.scalar(sa.select(sa.func.count()).select_from(UsageEvent))
        assert stored == 5
    finally:
        await recorder.stop(grace=1)
        await engine.dispose()


async def test_a_translation_memory_row_the_database_refuses_does_not_sink_its_batch(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    engine = create_engine(postgres_url)
    sessions = session_factory(engine)
    cache = TranslationCache(memory=MemoryLRU(100, 3600), redis=None, sessions=sessions)
    before = _dead("translation_memory")
    try:
        secret = "Confidential merger text of another tenant"
        for i in range(4):
            cache.set(
                f"key-{i}",
                CachedTranslation(text=f"{secret} {i}", source="en", target="es", provider="p"),
                workspace_id=None,
            )
        # A provider answered with a NUL (provider output is not request input).
        cache.set(
            "key-poison",
            CachedTranslation(text="bad\x00text", source="en", target="es", provider="p"),
            workspace_id=None,
        )
        await cache.drain()
        async with sessions() as session:
            keys = set(await session.scalars(sa.select(TranslationMemory.cache_key)))
        assert keys == {f"key-{i}" for i in range(4)}
        assert _dead("translation_memory") == before + 1
        assert secret not in caplog.text and "bad\x00text" not in caplog.text
        assert "key-poison" in caplog.text  # the operator learns which entry
    finally:
        await engine.dispose()


async def test_nested_json_is_a_400_without_authentication_or_traceback(
    start: Starter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = await start()
    deep = b'{"token": "x", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for route in (
        "/integrations/rocketchat/outgoing",
        "/libretranslate/translate",
        "/libretranslate/detect",
        "/api/v1/translate",
    ):
        answer = await app.client.post(
            route, content=deep, headers={**app.headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 400, (route, answer.status_code, answer.text[:200])
        error = answer.json()["error"]
        # LibreTranslate's routes answer in its own error format, {"error": "..."}.
        assert "nested deeper" in (error if isinstance(error, str) else error["message"])
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    # Ordinary nesting (a batch with context) still works.
    ok = await app.client.post(
        "/api/v1/translate",
        json={"text": "Hello", "target_lang": "es", "context": [{"text": "Hi", "author": "a"}]},
        headers=app.headers,
    )
    assert ok.status_code == 200, ok.text


def test_every_route_runs_the_edge_guard() -> None:
    """The edge checks (the guard, and writes on a read-only replica) are the app's
    `before_request`; a route with a hook of its own would replace them (Litestar keeps the
    closest), silently dropping the NUL and depth checks there."""
    from service.app import create_app, edge_checks
    from service.settings import Settings

    app = create_app(Settings())
    handlers = [h for route in app.routes for h in getattr(route, "route_handlers", [])]
    assert handlers
    for handler in handlers:
        assert handler.resolve_before_request() is edge_checks, handler
