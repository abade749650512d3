"""DeepL glossaries on the account: created on first use, replaced when edited, recreated when gone.

A glossary's name says whose it is and which version: `utp-<scope>-<version>-<digest>`, where
`scope` is a digest of the service's glossaries it merges and the language pair (stable across
edits), `version` their version and `digest` the entries'. So:
- a replica or a restart finds an existing glossary by name instead of creating a copy;
- after an edit, creating the new version deletes the lower versions of the same scope (a DeepL
  account holds a limited number of glossaries), while a replica still on the older version
  never deletes a newer one;
- a glossary deleted on the account (DeepL answers "not found") is forgotten and recreated.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from service.outbound import OutboundClient, OutboundResponse
from service.translation.languages import base_language
from service.translation.providers import http
from service.translation.providers.base import (
    GlossaryEntry,
    ProviderError,
    RequestRejected,
    TranslationRequest,
)

log = logging.getLogger(__name__)

MAX_CACHED: Final = 256
_NAME_RE: Final = re.compile(r"utp-([0-9a-f]{12})-(\d+)-[0-9a-f]{16}")

# (source, target, entries) -> glossary id, or None when DeepL refused that glossary.
_Key = tuple[str, str, tuple[GlossaryEntry, ...]]


def rows(entries: tuple[GlossaryEntry, ...]) -> dict[str, str]:
    """Source -> target terms DeepL can take: trimmed, non-empty, no tabs or line breaks."""
    found: dict[str, str] = {}
    for entry in entries:
        cells = (entry.source.strip(), entry.target.strip())
        if all(cells) and not any(c in cell for cell in cells for c in "\t\r\n"):
            found.setdefault(cells[0], cells[1])
    return found


class DeepLGlossaries:
    def __init__(
        self,
        client: OutboundClient,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout: float,
        secret: str,
        error: Callable[[OutboundResponse], ProviderError],
    ) -> None:
        self._client = client
        self._url = f"{base_url}/v2/glossaries"
        self._headers = dict(headers)
        self._timeout = timeout
        self._secret = secret
        self._error = error
        self._ids: dict[_Key, str | None] = {}
        self._lock = asyncio.Lock()

    async def glossary_id(self, request: TranslationRequest) -> str | None:
        """The id of the account's glossary for the request's terms, created when missing;
        None when DeepL refused it (the caller substitutes the terms itself)."""
        key = (request.source, request.target, request.glossary)
        async with self._lock:
            if key not in self._ids:
                if len(self._ids) >= MAX_CACHED:
                    self._ids.pop(next(iter(self._ids)))
                self._ids[key] = await self._create(request)
            return self._ids[key]

    def forget(self, glossary_id: str) -> None:
        """DeepL no longer has this glossary: the next request creates it again."""
        for key in [k for k, v in self._ids.items() if v == glossary_id]:
            del self._ids[key]

    async def _create(self, request: TranslationRequest) -> str | None:
        terms = rows(request.glossary)
        if not terms:
            return None
        source, target = request.source, request.target
        tsv = "\n".join(f"{s}\t{t}" for s, t in terms.items())
        scope = hashlib.sha256(f"{request.glossary_scope}|{source}>{target}".encode()).hexdigest()
        digest = hashlib.sha256(f"{source}>{target}\n{tsv}".encode()).hexdigest()
        name = f"utp-{scope[:12]}-{request.glossary_version}-{digest[:16]}"
        ours = await self._list()
        glossary_id = ours.get(name)
        if glossary_id is None:
            response = await self._send(
                "POST",
                self._url,
                {
                    "name": name,
                    "source_lang": base_language(source).lower(),
                    "target_lang": base_language(target).lower(),
                    "entries": tsv,
                    "entries_format": "tsv",
                },
            )
            if response.status_code not in (200, 201):
                error = self._error(response)
                if isinstance(error, RequestRejected):
                    # An unsupported pair or a bad entry: remembered, so it costs one call;
                    # the provider then substitutes the terms around the call instead.
                    log.warning("deepl refused a glossary for %s->%s: %s", source, target, error)
                    return None
                raise error
            data = http.json_body("deepl", response)
            created = data.get("glossary_id") if isinstance(data, dict) else None
            if not isinstance(created, str):
                raise http.malformed("deepl", "glossary without glossary_id")
            glossary_id = created
        await self._delete_superseded(ours, name)
        return glossary_id

    async def _list(self) -> dict[str, str]:
        """This service's glossaries on the account, by name; empty when the listing fails
        (then a new glossary is created rather than none used).

        Listed afresh at each creation (rare: once per glossary version and process), so a
        glossary another replica created or deleted meanwhile is seen."""
        data = await http.optional_json(
            self._client,
            "deepl",
            self._url,
            what="its glossaries (creating a new one)",
            headers=self._headers,
            request_timeout=self._timeout,
            secrets=[self._secret],
        )
        listed = data.get("glossaries") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            return {}
        return {
            item["name"]: item["glossary_id"]
            for item in listed
            if isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and item["name"].startswith("utp-")
            and isinstance(item.get("glossary_id"), str)
            and item.get("ready", True) is not False
        }

    async def _delete_superseded(self, ours: Mapping[str, str], name: str) -> None:
        """Delete the lower versions of `name`'s scope; a failure only leaves them behind."""
        current = _NAME_RE.fullmatch(name)
        if current is None:
            return
        for other, glossary_id in ours.items():
            match = _NAME_RE.fullmatch(other)
            if (
                match is None
                or match.group(1) != current.group(1)
                or int(match.group(2)) >= int(current.group(2))
            ):
                continue
            try:
                response = await self._send("DELETE", f"{self._url}/{glossary_id}")
            except ProviderError as exc:
                log.warning("deepl: could not delete superseded glossary %s: %s", other, exc)
                continue
            if response.status_code not in (200, 204, 404):
                log.warning(
                    "deepl: could not delete superseded glossary %s (HTTP %s)",
                    other,
                    response.status_code,
                )
                continue
            self.forget(glossary_id)

    async def _send(self, method: str, url: str, body: Any = None) -> OutboundResponse:
        return await http.send(
            self._client,
            "deepl",
            method,
            url,
            json=body,
            headers=self._headers,
            request_timeout=self._timeout,
            secrets=[self._secret],
        )
