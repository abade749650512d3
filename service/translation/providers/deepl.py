"""DeepL API v2: xml tag handling keeps sentinels, glossaries live in `deepl_glossaries`."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final
from xml.sax.saxutils import escape, unescape

from service.outbound import OutboundClient, OutboundResponse
from service.settings import ProviderSettings
from service.translation.languages import base_language
from service.translation.markup import from_pattern, to_tags
from service.translation.providers import http
from service.translation.providers.base import (
    Capabilities,
    GlossaryEntry,
    Provider,
    ProviderError,
    ProviderInfo,
    RequestRejected,
    TerminalProviderError,
    Tier,
    TransientProviderError,
    TranslationRequest,
    TranslationResult,
)
from service.translation.providers.deepl_glossaries import DeepLGlossaries

log = logging.getLogger(__name__)

PRO_URL: Final = "https://api.deepl.com"
FREE_URL: Final = "https://api-free.deepl.com"
QUOTA_EXCEEDED: Final = 456
# DeepL refuses request bodies over 128 KiB; keep a margin for the JSON framing.
MAX_BODY_BYTES: Final = 128 * 1024 - 2048
MAX_TEXTS: Final = 50

# DeepL's languages (its v2 list, checked against DeepL's mock server 1.21.0) that have a
# canonical code here; source and target, `pt-BR`, `zh-Hant` being target variants that
# DeepL reads as PT / ZH when they are the source. DeepL's other languages (af, bn, ga, sw
# and some 50 more) and its en-GB / es-419 variants wait for canonical codes of their own.
LANGUAGES: Final = frozenset(
    {
        "an", "ar", "bg", "ca", "cs", "da", "de", "el", "en", "eo", "es", "et", "eu", "fi",
        "fr", "gl", "he", "hi", "hu", "id", "is", "it", "ja", "ko", "lt", "lv", "mk", "nb",
        "nl", "oc", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "uk", "vi",
        "zh-Hans", "zh-Hant",
    }
)  # fmt: skip
# Canonical code -> DeepL target_lang where it is not just the upper-cased code.
_TARGETS: Final = {
    "en": "EN-US",
    "pt": "PT-PT",
    "pt-BR": "PT-BR",
    "zh-Hans": "ZH-HANS",
    "zh-Hant": "ZH-HANT",
}
_FORMALITY: Final = {"more": "prefer_more", "less": "prefer_less"}

# Sentinels travel as self-closing tags that `ignore_tags` tells DeepL to leave alone.
_TAG: Final = '<x id="{n}"/>'
_TAG_RE: Final = re.compile(r"<x\s+id\s*=\s*[\"'](\d+)[\"']\s*/?>(?:\s*</x>)?")
# Glossary terms DeepL would not take as a glossary travel as `<t id="k"/>`, restored as the
# glossary's translation k: what the engine does for engines without glossaries.
_TERM: Final = '<t id="{n}"/>'
_TERM_RE: Final = re.compile(r"<t\s+id\s*=\s*[\"'](\d+)[\"']\s*/?>(?:\s*</t>)?")
_ENTITIES: Final = {"&quot;": '"', "&apos;": "'"}


def source_code(code: str) -> str:
    return base_language(code).upper()


def target_code(code: str) -> str:
    return _TARGETS.get(code, code.upper())


class Terms:
    """Whole-word, case-insensitive glossary terms (as `markup.protect` matches them)."""

    def __init__(self, entries: Sequence[GlossaryEntry]) -> None:
        lowered = {e.source.lower(): e.target for e in entries if e.source.strip()}
        self.sources = sorted(lowered, key=len, reverse=True)
        self.targets = [lowered[s] for s in self.sources]
        alternatives = "|".join(re.escape(s) for s in self.sources) or r"(?!)"
        self.pattern = re.compile(rf"(?<![\w⟦])(?:{alternatives})(?![\w⟧])", re.IGNORECASE)


NO_TERMS: Final = Terms(())


def encode(text: str, terms: Terms = NO_TERMS) -> str:
    """Plain text with sentinels -> the XML fragment DeepL reads with tag_handling=xml."""
    pieces: list[str] = []
    pos = 0
    for match in terms.pattern.finditer(text):
        pieces.append(to_tags(escape(text[pos : match.start()]), _TAG))
        pieces.append(_TERM.format(n=terms.sources.index(match.group(0).lower())))
        pos = match.end()
    pieces.append(to_tags(escape(text[pos:]), _TAG))
    return "".join(pieces)


def decode(text: str, terms: Terms = NO_TERMS) -> str:
    parts = _TERM_RE.split(text)  # text, term index, text, ...
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(unescape(from_pattern(part, _TAG_RE), _ENTITIES))
        elif int(part) < len(terms.targets):
            out.append(terms.targets[int(part)])
        else:
            raise http.malformed("deepl", "a glossary term tag that was never sent")
    return "".join(out)


class _GlossaryGone(Exception):
    """DeepL no longer has the glossary a request named (deleted on the account)."""

    def __init__(self, glossary_id: str) -> None:
        super().__init__(glossary_id)
        self.glossary_id = glossary_id


class DeepLProvider(Provider):
    info = ProviderInfo(
        name="deepl",
        tier=Tier.PREMIUM,
        price_per_million_chars=Decimal(25),
        capabilities=Capabilities(
            formality=True,
            context=True,
            glossary=True,
            max_batch=MAX_TEXTS,
            max_characters=100_000,
        ),
    )

    def __init__(self, settings: ProviderSettings, client: OutboundClient) -> None:
        self._key = settings.deepl_api_key.get()
        self._client = client
        self._timeout = settings.provider_timeout_seconds
        self.base_url = (settings.deepl_base_url or self.default_base_url(self._key)).rstrip("/")
        self.glossaries = DeepLGlossaries(
            client,
            self.base_url,
            self._headers,
            timeout=self._timeout,
            secret=self._key,
            error=self._error,
        )

    @classmethod
    def enabled(cls, settings: ProviderSettings) -> bool:
        return bool(settings.deepl_api_key)

    @staticmethod
    def default_base_url(key: str) -> str:
        """Free-plan keys end in ':fx' and only work against the free API host."""
        return FREE_URL if key.endswith(":fx") else PRO_URL

    def supports(self, source: str, target: str) -> bool:
        return source in LANGUAGES and target in LANGUAGES and source != target

    def languages(self) -> frozenset[str]:
        return LANGUAGES

    @property
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"DeepL-Auth-Key {self._key}"}

    async def translate(self, request: TranslationRequest) -> TranslationResult:
        try:
            return await self._translate(request)
        except _GlossaryGone as gone:
            # Deleted on the account: forget it, so this retry creates it again.
            self.glossaries.forget(gone.glossary_id)
        try:
            return await self._translate(request)
        except _GlossaryGone:
            raise TransientProviderError(self.name, "a glossary vanished twice in a row") from None

    async def _translate(self, request: TranslationRequest) -> TranslationResult:
        base: dict[str, Any] = {
            "target_lang": target_code(request.target),
            "source_lang": source_code(request.source),
            "tag_handling": "xml",
            "ignore_tags": ["x"],
            "preserve_formatting": True,
            "show_billed_characters": True,
        }
        if request.formality in _FORMALITY:
            base["formality"] = _FORMALITY[request.formality]
        if request.context:
            base["context"] = "\n".join(message.text for message in request.context)
        terms = NO_TERMS
        if request.glossary:
            glossary_id = await self.glossaries.glossary_id(request)
            if glossary_id:
                base["glossary_id"] = glossary_id
            else:
                # No glossary DeepL accepts for these terms: never drop them silently.
                terms = Terms(request.glossary)
                base["ignore_tags"] = ["x", "t"]

        encoded = [encode(text, terms) for text in request.texts]
        overhead = len(json.dumps(base | {"text": []}).encode())
        budget = MAX_BODY_BYTES - overhead
        sized = [(text, len(json.dumps(text).encode()) + 2) for text in encoded]
        if max((size for _, size in sized), default=0) > budget:
            raise RequestRejected(
                self.name, "a text exceeds DeepL's 128 KiB body limit", status=413
            )

        texts: list[str] = []
        billed = 0
        parts = http.chunks(sized, max_items=MAX_TEXTS, max_size=budget, size=lambda i: i[1])
        for part in parts:
            body = base | {"text": [text for text, _ in part]}
            translated, characters = await self._translate_chunk(body, terms)
            texts.extend(translated)
            billed += characters
        return TranslationResult(
            texts=tuple(texts),
            model="deepl",
            characters=billed or request.characters,
            cost=self.info.price_per_million_chars * (billed or request.characters) / 1_000_000,
        )

    async def _translate_chunk(self, body: dict[str, Any], terms: Terms) -> tuple[list[str], int]:
        response = await http.send(
            self._client,
            self.name,
            "POST",
            f"{self.base_url}/v2/translate",
            json=body,
            headers=self._headers,
            request_timeout=self._timeout,
            secrets=[self._key],
        )
        if response.status_code != 200:
            error = self._error(response)
            # DeepL answers 400 "Glossary not found" (its mock: 404 "not found").
            if (
                "glossary_id" in body
                and response.status_code in (400, 404)
                and "not found" in str(error).lower()
            ):
                raise _GlossaryGone(body["glossary_id"])
            raise error
        data = http.json_body(self.name, response)
        items = data.get("translations") if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise http.malformed(self.name, "no translations list")
        texts = http.string_list(
            self.name, [i.get("text") for i in items], len(body["text"]), "translations"
        )
        billed = sum(
            i["billed_characters"] for i in items if isinstance(i.get("billed_characters"), int)
        )
        return [decode(t, terms) for t in texts], billed

    def _error(self, response: OutboundResponse) -> ProviderError:
        body = http.error_json(response)
        detail = ""
        if isinstance(body, dict):
            detail = " ".join(str(body[k]) for k in ("message", "detail") if body.get(k))
        message = http.redact(f"HTTP {response.status_code} {detail}".strip(), [self._key])
        if response.status_code == QUOTA_EXCEEDED:
            return TerminalProviderError(
                self.name,
                f"character quota exceeded ({message})",
                status=QUOTA_EXCEEDED,
                unavailable_for=http.QUOTA_PARKING_SECONDS,
            )
        return http.classify_status(self.name, response, message)
