"""Fake provider servers (one per API, started once per session) and the outbound HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import pytest

from service.outbound import OutboundClient

from .fakes import AnthropicFake, DeepLFake, Fake, GoogleFake, LibreTranslateFake, OpenAIFake

DEEPL_KEY = "0f1e2d3c-4b5a-6978-8899-aabbccddeeff:fx"
GOOGLE_KEY = "AIzaSyFAKE-google-key-0123456789"
OPENAI_KEY = "sk-proj-FAKEopenaikey0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-api03-FAKEanthropickey0123456789"
LIBRE_KEY = "libre-fake-key-0123"

F = TypeVar("F", bound=Fake)


def _serve(fake: F) -> Iterator[F]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def _deepl_server() -> Iterator[DeepLFake]:
    yield from _serve(DeepLFake(DEEPL_KEY))


@pytest.fixture(scope="session")
def _google_server() -> Iterator[GoogleFake]:
    yield from _serve(GoogleFake(GOOGLE_KEY))


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[OpenAIFake]:
    yield from _serve(OpenAIFake(OPENAI_KEY))


@pytest.fixture(scope="session")
def _anthropic_server() -> Iterator[AnthropicFake]:
    yield from _serve(AnthropicFake(ANTHROPIC_KEY))


@pytest.fixture(scope="session")
def _libre_server() -> Iterator[LibreTranslateFake]:
    yield from _serve(LibreTranslateFake(LIBRE_KEY))


@pytest.fixture
def deepl_fake(_deepl_server: DeepLFake) -> DeepLFake:
    _deepl_server.reset()
    return _deepl_server


@pytest.fixture
def google_fake(_google_server: GoogleFake) -> GoogleFake:
    _google_server.reset()
    return _google_server


@pytest.fixture
def openai_fake(_openai_server: OpenAIFake) -> OpenAIFake:
    _openai_server.reset()
    return _openai_server


@pytest.fixture
def anthropic_fake(_anthropic_server: AnthropicFake) -> AnthropicFake:
    _anthropic_server.reset()
    return _anthropic_server


@pytest.fixture
def libre_fake(_libre_server: LibreTranslateFake) -> LibreTranslateFake:
    _libre_server.reset()
    return _libre_server


@pytest.fixture
async def client() -> AsyncIterator[OutboundClient]:
    async with OutboundClient(10.0) as http_client:
        yield http_client
