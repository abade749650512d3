"""Loopback fakes of the translation APIs: documented request checks, replies and errors.

Each fake is a Litestar app served by uvicorn on 127.0.0.1 in a background thread. It records
every request, checks the auth header and body shape the real API demands (answering with the
real API's error when they are wrong), and "translates" by upper-casing the text it would
translate and prefixing the target code, so tests see exactly what was protected and what not.
Tests queue `Scripted` replies to inject errors and delays.
"""

from __future__ import annotations

from .base import Fake, Received, Scripted, fake_translate
from .deepl import DeepLFake, deepl_error
from .google import GoogleFake, google_error
from .libretranslate import LibreTranslateFake, libre_error
from .llm import AnthropicFake, OpenAIFake, anthropic_error, openai_error

__all__ = [
    "AnthropicFake",
    "DeepLFake",
    "Fake",
    "GoogleFake",
    "LibreTranslateFake",
    "OpenAIFake",
    "Received",
    "Scripted",
    "anthropic_error",
    "deepl_error",
    "fake_translate",
    "google_error",
    "libre_error",
    "openai_error",
]
