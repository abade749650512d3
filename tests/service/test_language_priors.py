"""Detection priors: a workspace's languages (configured or seen) and its authors' languages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from service.accounts.languages import LanguagePriors
from service.container import services_of
from service.db.models import UsageEvent, User, Workspace, WorkspaceSettings
from service.db.session import create_engine, session_factory
from service.settings import Settings
from service.translation.detection import LanguageDetector
from tests.service.conftest import Api, start_api
from tests.service.scripted import ScriptedProvider


@pytest.fixture
async def sessions(sqlite_settings: Settings):  # type: ignore[no-untyped-def]
    engine = create_engine(sqlite_settings.database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _workspace(sessions) -> uuid.UUID:  # type: ignore[no-untyped-def]
    workspace_id = uuid.uuid4()
    async with sessions.begin() as session:
        session.add(Workspace(id=workspace_id, name=f"w-{workspace_id.hex[:8]}"))
    return workspace_id


async def test_configured_languages_win_over_traffic(sessions) -> None:  # type: ignore[no-untyped-def]
    workspace_id = await _workspace(sessions)
    priors = LanguagePriors(sessions)
    assert await priors.candidates(workspace_id) is None
    async with sessions.begin() as session:
        session.add(WorkspaceSettings(workspace_id=workspace_id, languages=["en", "FR", "pt-br"]))
    priors.forget(workspace_id)
    assert await priors.candidates(workspace_id) == frozenset({"en", "fr", "pt-BR"})


async def test_languages_seen_in_traffic_narrow_detection(sessions) -> None:  # type: ignore[no-untyped-def]
    workspace_id = await _workspace(sessions)
    async with sessions.begin() as session:
        for lang, count in (("en", 60), ("es", 39), ("ja", 1)):
            for _ in range(count):
                session.add(
                    UsageEvent(
                        id=uuid.uuid4(),
                        workspace_id=workspace_id,
                        source_lang=lang,
                        target_lang="de",
                        outcome="translated",
                    )
                )
    # One stray Japanese line in a hundred is below the 2 % share: not a workspace language.
    assert await LanguagePriors(sessions).candidates(workspace_id) == frozenset({"en", "es"})


async def test_author_language_is_read_and_remembered(sessions) -> None:  # type: ignore[no-untyped-def]
    workspace_id = await _workspace(sessions)
    async with sessions.begin() as session:
        session.add(User(workspace_id=workspace_id, external_id="rc-ana", recent_language="es"))
    priors = LanguagePriors(sessions)
    assert await priors.author_language(workspace_id, "rc-ana") == "es"
    assert await priors.author_language(workspace_id, "rc-nobody") is None
    await priors.remember_author_language(workspace_id, "rc-ana", "ca")
    async with sessions() as session:
        stored = await session.scalar(
            sa.select(User.recent_language).where(User.external_id == "rc-ana")
        )
    assert stored == "ca"


@pytest.fixture
async def real_detection_api(sqlite_settings: Settings) -> AsyncIterator[Api]:
    detector = LanguageDetector.from_settings(sqlite_settings.detection)
    async for value in start_api(sqlite_settings, ScriptedProvider(), detector=detector):
        yield value


async def test_workspace_languages_decide_an_ambiguous_word(real_detection_api: Api) -> None:
    api = real_detection_api
    # "combinado" is Spanish and Portuguese alike: without priors it is one of the two, and a
    # workspace that writes the other one gets the other one.
    unrestricted = await api.client.post(
        "/api/v1/detect", json={"text": "combinado"}, headers=api.headers
    )
    first = unrestricted.json()["language"]
    assert first in {"es", "pt"}
    other = "pt" if first == "es" else "es"

    app = api.client.app
    async with services_of(app).sessions.begin() as session:
        workspace_id = await session.scalar(sa.select(Workspace.id))
        session.add(WorkspaceSettings(workspace_id=workspace_id, languages=["en", other]))
    services_of(app).language_priors.forget(workspace_id)
    narrowed = await api.client.post(
        "/api/v1/detect", json={"text": "combinado"}, headers=api.headers
    )
    assert narrowed.json()["language"] == other
    translated = await api.client.post(
        "/api/v1/translate", json={"text": "combinado", "target_lang": "de"}, headers=api.headers
    )
    assert translated.json()["source_lang"] == other
