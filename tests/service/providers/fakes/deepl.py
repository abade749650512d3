"""Fake DeepL API v2: translate and the glossary lifecycle (create, list, use, delete).

Errors as DeepL gives them: a glossary for a pair outside its glossary languages is refused
with 400, a translation naming a deleted glossary is refused with 400 "Glossary not found".
"""

from __future__ import annotations

import html
import json
import re
import uuid
from pathlib import Path
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler

from .base import Fake, Received, Reply, Scripted, fake_translate, is_str_list

# DeepL's languages as its mock server lists them (stored with their source in
# contracts/deepl-languages.json): v2 source codes are the base languages, targets include
# the regional variants, and glossaries are made between any two glossary languages.
_LANGUAGES = json.loads(
    (Path(__file__).parent.parent / "contracts/deepl-languages.json").read_text()
)
_V2 = set(_LANGUAGES["translate_text"]) - set(_LANGUAGES["hidden_from_v2"])
DEEPL_SOURCE = {c.upper() for c in _V2 - set(_LANGUAGES["target_only"])}
DEEPL_TARGET = {c.upper() for c in _V2 - set(_LANGUAGES["hidden_from_v2_target"])}
GLOSSARY_LANGUAGES = set(_LANGUAGES["glossary"])
_XML_KEEP = re.compile(r"<[^>]+>|&[#\w]+;")
_TAGS = re.compile(r"<[^>]+>")


def deepl_error(status: int, message: str) -> Scripted:
    return Scripted(status, {"message": message})


class DeepLFake(Fake):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.glossaries: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        super().reset()
        self.glossaries.clear()

    def routes(self) -> list[HTTPRouteHandler]:
        @post("/v2/translate", status_code=200)
        async def translate(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._translate)

        @post("/v2/glossaries", status_code=201)
        async def glossaries(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._glossary)

        @get("/v2/glossaries", status_code=200)
        async def list_glossaries(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._list_glossaries)

        @delete("/v2/glossaries/{glossary_id:str}", status_code=200)
        async def delete_glossary(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._delete_glossary)

        return [translate, glossaries, list_glossaries, delete_glossary]

    def check(self, req: Received) -> Reply | None:
        if req.headers.get("authorization") != f"DeepL-Auth-Key {self.key}":
            return 403, {"message": "Authorization failure, check auth_key"}
        if req.size > 128 * 1024:
            return 413, {"message": "Request Entity Too Large"}
        if req.method == "POST" and not isinstance(req.body, dict):
            return 400, {"message": "Bad request. Reason: Invalid JSON"}
        return None

    def _translate(self, req: Received) -> Reply:
        body = req.body
        texts = body.get("text")
        if not is_str_list(texts) or not texts or len(texts) > 50:
            return 400, {"message": "Bad request. Reason: Parameter 'text' not specified."}
        if body.get("target_lang") not in DEEPL_TARGET:
            return 400, {"message": "Value for 'target_lang' not supported."}
        source = body.get("source_lang")
        if source is not None and source not in DEEPL_SOURCE:
            return 400, {"message": "Value for 'source_lang' not supported."}
        glossary: dict[str, str] = {}
        if "glossary_id" in body:
            if source is None:
                return 400, {"message": "Use of a glossary requires the source_lang parameter."}
            if body["glossary_id"] not in self.glossaries:
                return 400, {"message": "Glossary not found"}
            glossary = self.glossaries[body["glossary_id"]]["entries"]
        keep = _XML_KEEP if body.get("tag_handling") == "xml" else None
        target = body["target_lang"]
        items = []
        for text in texts:
            item: dict[str, Any] = {
                "detected_source_language": source or "EN",
                "text": fake_translate(text, target, keep, glossary),
            }
            if body.get("show_billed_characters"):
                item["billed_characters"] = len(html.unescape(_TAGS.sub("", text)))
            items.append(item)
        return 200, {"translations": items}

    def _glossary(self, req: Received) -> Reply:
        body = req.body
        required = ("name", "source_lang", "target_lang", "entries", "entries_format")
        if any(not isinstance(body.get(k), str) for k in required):
            return 400, {"message": "Bad request. Reason: missing glossary parameter"}
        if body["entries_format"] != "tsv" or body["source_lang"] != body["source_lang"].lower():
            return 400, {"message": "Bad request. Reason: unsupported entries or language format"}
        if {body["source_lang"], body["target_lang"]} - GLOSSARY_LANGUAGES:
            return 400, {"message": "Unsupported glossary source and target language pair"}
        entries = dict(line.split("\t", 1) for line in body["entries"].splitlines())
        glossary_id = str(uuid.uuid4())
        self.glossaries[glossary_id] = {**body, "entries": entries}
        return 201, self._info(glossary_id)

    def _delete_glossary(self, req: Received) -> Reply:
        glossary_id = req.path.rsplit("/", 1)[-1]
        if self.glossaries.pop(glossary_id, None) is None:
            return 404, {"message": "not found"}
        return 204, None

    def _list_glossaries(self, req: Received) -> Reply:
        # Metadata only, never the entries.
        return 200, {"glossaries": [self._info(g) for g in self.glossaries]}

    def _info(self, glossary_id: str) -> dict[str, Any]:
        glossary = self.glossaries[glossary_id]
        return {
            "glossary_id": glossary_id,
            "name": glossary["name"],
            "ready": True,
            # Lower-case, as DeepL's OpenAPI document has them (GlossarySourceLanguage).
            "source_lang": glossary["source_lang"],
            "target_lang": glossary["target_lang"],
            "creation_time": "2025-01-01T00:00:00Z",
            "entry_count": len(glossary["entries"]),
        }
