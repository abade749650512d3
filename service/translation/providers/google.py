"""Google Cloud Translation v2 (basic): html format with sentinels in `translate="no"` spans."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any, Final

from service.outbound import OutboundClient, OutboundResponse
from service.settings import ProviderSettings
from service.translation import languages as langs
from service.translation.markup import from_pattern, to_tags
from service.translation.providers import http
from service.translation.providers.base import (
    Capabilities,
    Detection,
    Provider,
    ProviderError,
    ProviderInfo,
    TerminalProviderError,
    Tier,
    TransientProviderError,
    TranslationRequest,
    TranslationResult,
)

MAX_SEGMENTS: Final = 128
# Google advises keeping a request well under 30k code points; chat batches rarely get close.
MAX_CHARACTERS: Final = 30_000

# Google translates every language we have a canonical code for, except the smaller Romance
# and Norwegian standards the offline engine added (Aragonese, Asturian, Nynorsk).
LANGUAGES: Final = frozenset(langs.LANGUAGES) - {"an", "ast", "nn"}
# Canonical -> Google where they differ. Google's bare "pt" is Brazilian Portuguese.
_SOURCE_CODES: Final = {"zh-Hans": "zh-CN", "zh-Hant": "zh-TW", "pt-BR": "pt", "nb": "no"}
_TARGET_CODES: Final = _SOURCE_CODES | {"pt": "pt-PT"}

_SPAN: Final = '<span translate="no">⟦{n}⟧</span>'
_SPAN_RE: Final = re.compile(
    r"<span\b[^>]*\btranslate\s*=\s*[\"']?no[\"']?[^>]*>\s*⟦\s*(\d+)\s*⟧\s*</span>"
)
_BR_RE: Final = re.compile(r"<br\s*/?>")

_RATE_REASONS: Final = frozenset(
    {"userRateLimitExceeded", "rateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
)
_QUOTA_REASONS: Final = frozenset(
    {"dailyLimitExceeded", "quotaExceeded", "dailyLimitExceededUnreg"}
)
_KEY_REASONS: Final = frozenset({"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED"})


def encode(text: str) -> str:
    """Plain text -> html Google keeps: markup escaped, newlines as <br>, sentinels fenced."""
    return to_tags(html.escape(text, quote=False).replace("\n", "<br>"), _SPAN)


def decode(text: str) -> str:
    return html.unescape(_BR_RE.sub("\n", from_pattern(text, _SPAN_RE)))


class GoogleProvider(Provider):
    info = ProviderInfo(
        name="google",
        tier=Tier.BALANCED,
        price_per_million_chars=Decimal(20),
        capabilities=Capabilities(
            detect=True, max_batch=MAX_SEGMENTS, max_characters=MAX_CHARACTERS
        ),
    )

    def __init__(self, settings: ProviderSettings, client: OutboundClient) -> None:
        self._key = settings.google_api_key.get()
        self._client = client
        self._timeout = settings.provider_timeout_seconds
        self.base_url = f"{settings.google_base_url.rstrip('/')}/language/translate/v2"

    @classmethod
    def enabled(cls, settings: ProviderSettings) -> bool:
        return bool(settings.google_api_key)

    def supports(self, source: str, target: str) -> bool:
        return source in LANGUAGES and target in LANGUAGES and source != target

    def languages(self) -> frozenset[str]:
        return LANGUAGES

    async def translate(self, request: TranslationRequest) -> TranslationResult:
        encoded = [encode(text) for text in request.texts]
        texts: list[str] = []
        for part in http.chunks(encoded, max_items=MAX_SEGMENTS, max_size=MAX_CHARACTERS, size=len):
            data = await self._post(
                "",
                {
                    "q": part,
                    "source": _SOURCE_CODES.get(request.source, request.source),
                    "target": _TARGET_CODES.get(request.target, request.target),
                    "format": "html",
                },
            )
            items = data.get("translations")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise http.malformed(self.name, "no translations list")
            got = [i.get("translatedText") for i in items]
            texts.extend(decode(t) for t in http.string_list(self.name, got, len(part), "q"))
        return TranslationResult(
            texts=tuple(texts),
            model="nmt",
            characters=request.characters,
            cost=self.estimate_cost(request.characters),
        )

    async def detect(self, text: str) -> list[Detection]:
        data = await self._post("/detect", {"q": [text]})
        detections = data.get("detections")
        if not isinstance(detections, list) or not detections:
            raise http.malformed(self.name, "no detections")
        first = detections[0]
        candidates = first if isinstance(first, list) else [first]
        found: list[Detection] = []
        for candidate in candidates:
            if not isinstance(candidate, dict):
                continue
            code = langs.normalize(str(candidate.get("language", "")))
            confidence = candidate.get("confidence")
            if code and isinstance(confidence, int | float):
                found.append(Detection(code, max(0.0, min(1.0, float(confidence)))))
        return sorted(found, key=lambda d: d.confidence, reverse=True)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await http.send(
            self._client,
            self.name,
            "POST",
            self.base_url + path,
            params={"key": self._key},
            json=body,
            request_timeout=self._timeout,
            secrets=[self._key],
        )
        if response.status_code != 200:
            raise self._error(response)
        data = http.json_body(self.name, response)
        inner = data.get("data") if isinstance(data, dict) else None
        if not isinstance(inner, dict):
            raise http.malformed(self.name, "no data object")
        return inner

    def _error(self, response: OutboundResponse) -> ProviderError:
        body = http.error_json(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        reasons = {
            str(item.get("reason"))
            for key in ("errors", "details")
            for item in (error.get(key) or [])
            if isinstance(item, dict) and item.get("reason")
        }
        text = str(error.get("message") or error.get("status") or "")
        message = http.redact(f"HTTP {response.status_code} {text}".strip(), [self._key])
        status = response.status_code
        if reasons & _RATE_REASONS:
            return TransientProviderError(
                self.name, message, status=status, retry_after=http.retry_after(response.headers)
            )
        if reasons & _QUOTA_REASONS:
            return TerminalProviderError(
                self.name, message, status=status, unavailable_for=http.QUOTA_PARKING_SECONDS
            )
        if reasons & _KEY_REASONS or "API key not valid" in text:
            return TerminalProviderError(self.name, message, status=status)
        return http.classify_status(self.name, response, message)
