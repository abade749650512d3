"""Builds the enabled providers from settings (the embedded Apertium engine by default)."""

from __future__ import annotations

import logging

from service.outbound import OutboundClient
from service.settings import ProviderSettings
from service.translation.providers.anthropic import AnthropicProvider
from service.translation.providers.apertium import ApertiumProvider
from service.translation.providers.base import Provider
from service.translation.providers.deepl import DeepLProvider
from service.translation.providers.google import GoogleProvider
from service.translation.providers.libretranslate import LibreTranslateProvider
from service.translation.providers.openai import OpenAIProvider

log = logging.getLogger(__name__)

HTTP_PROVIDERS = (
    DeepLProvider,
    GoogleProvider,
    OpenAIProvider,
    AnthropicProvider,
    LibreTranslateProvider,
)


def build_providers(settings: ProviderSettings, client: OutboundClient) -> list[Provider]:
    providers: list[Provider] = [
        cls(settings, client) for cls in HTTP_PROVIDERS if cls.enabled(settings)
    ]
    if ApertiumProvider.enabled(settings):
        providers.append(ApertiumProvider(settings))
    elif settings.apertium_enabled:
        log.warning(
            "Apertium is not installed (no modes in %s): the offline engine is off",
            settings.apertium_modes_dir,
        )
    return providers
