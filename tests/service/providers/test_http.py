"""Shared HTTP helpers: Retry-After parsing, redaction, chunking, transport failures."""

from __future__ import annotations

import email.utils
import socket

import pytest

from service.outbound import OutboundClient
from service.settings import ProviderSettings, Secret
from service.translation.providers import http
from service.translation.providers.base import TransientProviderError, TranslationRequest
from service.translation.providers.deepl import DeepLProvider


def test_retry_after_seconds_and_dates() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert http.retry_after({"retry-after": "5"}, now) == 5.0
    assert http.retry_after({"retry-after": date}, now) == pytest.approx(30, abs=1)
    assert (
        http.retry_after({"retry-after": email.utils.formatdate(now - 60, usegmt=True)}, now) == 0
    )
    assert http.retry_after({"retry-after-ms": "250", "retry-after": "9"}, now) == 0.25
    assert http.retry_after({"retry-after": "soon"}, now) is None
    assert http.retry_after({}, now) is None
    assert http.retry_after({"retry-after": "99999999"}, now) == http.MAX_RETRY_AFTER


def test_redact() -> None:
    assert http.redact("bad key s3cr3t used", ["s3cr3t"]) == "bad key *** used"
    assert "abcdef12345" not in http.redact("Incorrect API key provided: sk-abcdef12345")
    assert http.redact("GET https://x/v2?key=AIza123&q=1") == "GET https://x/v2?key=***&q=1"


def test_chunks_respect_count_and_size() -> None:
    sizes = [5, 5, 5, 20, 1, 1]
    assert http.chunks(sizes, max_items=2, max_size=12, size=lambda s: s) == [
        [5, 5],
        [5],
        [20],
        [1, 1],
    ]


async def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = ProviderSettings(
        deepl_api_key=Secret("k:fx"), deepl_base_url=f"http://127.0.0.1:{port}"
    )
    async with OutboundClient(10.0) as client:
        with pytest.raises(TransientProviderError) as info:
            await DeepLProvider(settings, client).translate(
                TranslationRequest(texts=("hi",), source="en", target="de")
            )
    assert not info.value.timeout
    assert info.value.__cause__ is None
