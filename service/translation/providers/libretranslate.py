"""A self-hosted LibreTranslate server: html format, sentinels in `translate="no"` code tags.

The server decodes the entities of its html-format output itself (LibreTranslate 1.9:
`&amp;` comes back as `&`, `&lt;br&gt;` as `<br>`), so the reply is taken as plain text apart
from our own tags: decoding it again turned `docs&notes` into `docs¬es` and a literal `<br>`
into a line break. Line breaks therefore travel as a tag of ours too, one that text cannot
spell: a literal `⟦…⟧` in a message is itself swapped for a sentinel before we see it.
"""

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
    TranslationRequest,
    TranslationResult,
)

# What a LibreTranslate server with all Argos models installed serves; replaced at start-up
# by the server's own `GET /languages` answer when it can be read.
# (Argos has no model for Aragonese, Asturian, Icelandic, Macedonian, Occitan or Nynorsk.)
LANGUAGES: Final = frozenset(langs.LANGUAGES) - {"an", "ast", "is", "mk", "oc", "nn"}
# Server spellings that `languages.normalize` does not know (LibreTranslate < 1.6 used these).
_LEGACY: Final = {"zt": "zh-Hant", "pb": "pt-BR"}

_TAG: Final = '<code translate="no">⟦{n}⟧</code>'
_TAG_RE: Final = re.compile(r"<code\b[^>]*>\s*⟦\s*(\d+)\s*⟧\s*</code>")
_NEWLINE: Final = '<code translate="no">⟦n⟧</code>'
_NEWLINE_RE: Final = re.compile(r"<code\b[^>]*>\s*⟦n⟧\s*</code>")


def encode(text: str) -> str:
    return to_tags(html.escape(text, quote=False).replace("\n", _NEWLINE), _TAG)


def decode(text: str) -> str:
    """The server's reply, already unescaped by the server, with our tags turned back."""
    return _NEWLINE_RE.sub("\n", from_pattern(text, _TAG_RE))


def canonical(code: str) -> str | None:
    return _LEGACY.get(code) or langs.normalize(code)


class LibreTranslateProvider(Provider):
    info = ProviderInfo(
        name="libretranslate",
        tier=Tier.ECONOMY,
        price_per_million_chars=Decimal(0),
        capabilities=Capabilities(detect=True, max_batch=50, max_characters=20_000),
    )

    def __init__(self, settings: ProviderSettings, client: OutboundClient) -> None:
        self._key = settings.libretranslate_api_key.get()
        self._client = client
        self._timeout = settings.provider_timeout_seconds
        self.base_url = settings.libretranslate_url.rstrip("/")
        # canonical code -> the server's spelling, and canonical source -> canonical targets;
        # filled from the server by `start()`.
        self._codes: dict[str, str] = {}
        self._targets: dict[str, frozenset[str]] = {}

    @classmethod
    def enabled(cls, settings: ProviderSettings) -> bool:
        return bool(settings.libretranslate_url)

    async def start(self) -> None:
        """Learn which languages (and spellings) this server has; keep the static table if not."""
        data = await http.optional_json(
            self._client,
            self.name,
            f"{self.base_url}/languages",
            what="its languages (keeping the static table)",
            request_timeout=self._timeout,
            secrets=[self._key],
        )
        if not isinstance(data, list):
            return
        codes: dict[str, str] = {}
        targets: dict[str, frozenset[str]] = {}
        for item in data:
            if not isinstance(item, dict) or not isinstance(item.get("code"), str):
                continue
            code = canonical(item["code"])
            if code is None:
                continue
            codes[code] = item["code"]
            raw_targets = item.get("targets")
            found = (
                [canonical(t) for t in raw_targets if isinstance(t, str)]
                if isinstance(raw_targets, list)
                else []
            )
            targets[code] = frozenset(t for t in found if t)
        self._codes, self._targets = codes, targets

    def languages(self) -> frozenset[str]:
        return frozenset(self._codes) if self._codes else LANGUAGES

    def supports(self, source: str, target: str) -> bool:
        if source == target:
            return False
        if self._targets:
            return target in self._targets.get(source, frozenset())
        return source in LANGUAGES and target in LANGUAGES

    def _code(self, code: str) -> str:
        return self._codes.get(code, code)

    async def translate(self, request: TranslationRequest) -> TranslationResult:
        data = await self._post(
            "/translate",
            {
                "q": [encode(text) for text in request.texts],
                "source": self._code(request.source),
                "target": self._code(request.target),
                "format": "html",
            },
        )
        got = data.get("translatedText") if isinstance(data, dict) else None
        texts = http.string_list(self.name, got, len(request.texts), "translatedText")
        return TranslationResult(
            texts=tuple(decode(t) for t in texts),
            model="libretranslate",
            characters=request.characters,
            cost=Decimal(0),
        )

    async def detect(self, text: str) -> list[Detection]:
        data = await self._post("/detect", {"q": text})
        if not isinstance(data, list):
            raise http.malformed(self.name, "detections are not a list")
        found: list[Detection] = []
        for item in data:
            if not isinstance(item, dict) or not isinstance(item.get("language"), str):
                continue
            code = canonical(item["language"])
            confidence = item.get("confidence")
            if code and isinstance(confidence, int | float):
                found.append(Detection(code, max(0.0, min(1.0, float(confidence) / 100))))
        return sorted(found, key=lambda d: d.confidence, reverse=True)

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        if self._key:
            body = body | {"api_key": self._key}
        response = await http.send(
            self._client,
            self.name,
            "POST",
            self.base_url + path,
            json=body,
            request_timeout=self._timeout,
            secrets=[self._key],
        )
        if response.status_code != 200:
            raise self._error(response)
        return http.json_body(self.name, response)

    def _error(self, response: OutboundResponse) -> ProviderError:
        body = http.error_json(response)
        text = str(body.get("error") or "") if isinstance(body, dict) else ""
        message = http.redact(f"HTTP {response.status_code} {text}".strip(), [self._key])
        if response.status_code == 400 and "api key" in text.lower():
            # The server wants a key we do not have (or have wrong): a configuration problem.
            return TerminalProviderError(self.name, message, status=400)
        return http.classify_status(self.name, response, message)
