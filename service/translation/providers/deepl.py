"""DeepL API v2: xml tag handling keeps sentinels, ad-hoc glossaries are created on first use."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
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
    TranslationRequest,
    TranslationResult,
)

log = logging.getLogger(__name__)

PRO_URL: Final = "https://api.deepl.com"
FREE_URL: Final = "https://api-free.deepl.com"
QUOTA_EXCEEDED: Final = 456
# DeepL refuses request bodies over 128 KiB; keep a margin for the JSON framing.
MAX_BODY_BYTES: Final = 128 * 1024 - 2048
MAX_TEXTS: Final = 50
MAX_CACHED_GLOSSARIES: Final = 256

# DeepL's languages as canonical codes (source and target; `pt-BR`, `zh-Hant` are target
# variants that DeepL reads as PT / ZH when they are the source).
LANGUAGES: Final = frozenset(
    {
        "ar", "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "he", "hu", "id",
        "it", "ja", "ko", "lt", "lv", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl",
        "sv", "th", "tr", "uk", "vi", "zh-Hans", "zh-Hant",
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
_ENTITIES: Final = {"&quot;": '"', "&apos;": "'"}


def source_code(code: str) -> str:
    return base_language(code).upper()


def target_code(code: str) -> str:
    return _TARGETS.get(code, code.upper())


def encode(text: str) -> str:
    """Plain text with sentinels -> the XML fragment DeepL reads with tag_handling=xml."""
    return to_tags(escape(text), _TAG)


def decode(text: str) -> str:
    return unescape(from_pattern(text, _TAG_RE), _ENTITIES)


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
        # (source, target, entries) -> glossary id, or None when DeepL refused that glossary.
        self._glossaries: dict[tuple[str, str, tuple[GlossaryEntry, ...]], str | None] = {}
        # The account's glossaries of ours (name -> id), listed once: see `_create_glossary`.
        self._ours: dict[str, str] | None = None
        self._glossary_lock = asyncio.Lock()

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
        if request.glossary:
            glossary_id = await self._glossary(request.source, request.target, request.glossary)
            if glossary_id:
                base["glossary_id"] = glossary_id

        encoded = [encode(text) for text in request.texts]
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
            translated, characters = await self._translate_chunk(body)
            texts.extend(translated)
            billed += characters
        return TranslationResult(
            texts=tuple(texts),
            model="deepl",
            characters=billed or request.characters,
            cost=self.info.price_per_million_chars * (billed or request.characters) / 1_000_000,
        )

    async def _translate_chunk(self, body: dict[str, Any]) -> tuple[list[str], int]:
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
            raise self._error(response)
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
        return [decode(t) for t in texts], billed

    async def _glossary(
        self, source: str, target: str, entries: tuple[GlossaryEntry, ...]
    ) -> str | None:
        key = (source, target, entries)
        async with self._glossary_lock:
            if key not in self._glossaries:
                if len(self._glossaries) >= MAX_CACHED_GLOSSARIES:
                    self._glossaries.pop(next(iter(self._glossaries)))
                self._glossaries[key] = await self._create_glossary(source, target, entries)
            return self._glossaries[key]

    async def _create_glossary(
        self, source: str, target: str, entries: tuple[GlossaryEntry, ...]
    ) -> str | None:
        rows: dict[str, str] = {}
        for entry in entries:
            cells = (entry.source.strip(), entry.target.strip())
            if all(cells) and not any(c in cell for cell in cells for c in "\t\r\n"):
                rows.setdefault(cells[0], cells[1])
        if not rows:
            return None
        tsv = "\n".join(f"{s}\t{t}" for s, t in rows.items())
        digest = hashlib.sha256(f"{source}>{target}\n{tsv}".encode()).hexdigest()[:16]
        name = f"utp-{digest}"
        existing = (await self._our_glossaries()).get(name)
        if existing is not None:
            return existing
        response = await http.send(
            self._client,
            self.name,
            "POST",
            f"{self.base_url}/v2/glossaries",
            json={
                "name": name,
                "source_lang": base_language(source).lower(),
                "target_lang": base_language(target).lower(),
                "entries": tsv,
                "entries_format": "tsv",
            },
            headers=self._headers,
            request_timeout=self._timeout,
            secrets=[self._key],
        )
        if response.status_code not in (200, 201):
            error = self._error(response)
            if isinstance(error, RequestRejected):
                # An unsupported pair or a bad entry: translating without the glossary beats
                # not translating; the refusal is remembered so it costs one call only.
                log.warning("deepl refused a glossary for %s->%s: %s", source, target, error)
                return None
            raise error
        data = http.json_body(self.name, response)
        glossary_id = data.get("glossary_id") if isinstance(data, dict) else None
        if not isinstance(glossary_id, str):
            raise http.malformed(self.name, "glossary without glossary_id")
        if self._ours is not None:
            self._ours[name] = glossary_id
        return glossary_id

    async def _our_glossaries(self) -> dict[str, str]:
        """Glossaries this service created earlier on the account, by name.

        A glossary's name is a digest of its pair and entries, so an existing one is reused:
        without this, every replica and every restart created its own copy, and DeepL accounts
        hold a limited number of glossaries. Listed once per process; when the listing fails,
        a new glossary is created and the listing is tried again next time.
        """
        if self._ours is not None:
            return self._ours
        data = await http.optional_json(
            self._client,
            self.name,
            f"{self.base_url}/v2/glossaries",
            what="its glossaries (creating a new one)",
            headers=self._headers,
            request_timeout=self._timeout,
            secrets=[self._key],
        )
        listed = data.get("glossaries") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            return {}
        self._ours = {
            item["name"]: item["glossary_id"]
            for item in listed
            if isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and item["name"].startswith("utp-")
            and isinstance(item.get("glossary_id"), str)
            and item.get("ready", True) is not False
        }
        return self._ours

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
