"""Fake LibreTranslate server: translate, detect, languages.

Like the real server (LibreTranslate 1.9), html-format output comes back with its entities
already decoded: the engine keeps tags and entities, then the server unescapes the result.
"""

from __future__ import annotations

import html
import re
from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from .base import Fake, Received, Reply, Scripted, fake_translate

_LIBRE_KEEP = re.compile(r"<code\b[^>]*>.*?</code>|<[^>]+>|&[#\w]+;")
LIBRE_LANGUAGES = [
    {"code": "en", "name": "English", "targets": ["de", "es", "fr", "ja", "zh", "zt"]},
    {"code": "es", "name": "Spanish", "targets": ["de", "en", "fr"]},
    {"code": "fr", "name": "French", "targets": ["en", "es"]},
    {"code": "de", "name": "German", "targets": ["en", "es"]},
    {"code": "ja", "name": "Japanese", "targets": ["en"]},
    {"code": "zh", "name": "Chinese", "targets": ["en"]},
    {"code": "zt", "name": "Chinese (traditional)", "targets": ["en"]},
]


def libre_error(status: int, message: str) -> Scripted:
    return Scripted(status, {"error": message})


class LibreTranslateFake(Fake):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.codes = {lang["code"] for lang in LIBRE_LANGUAGES}

    def routes(self) -> list[HTTPRouteHandler]:
        @post("/translate", status_code=200)
        async def translate(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._translate)

        @post("/detect", status_code=200)
        async def detect(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._detect)

        @get("/languages")
        async def languages(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, lambda _: (200, LIBRE_LANGUAGES))

        return [translate, detect, languages]

    def check(self, req: Received) -> Reply | None:
        if req.method == "GET":
            return None
        if not isinstance(req.body, dict):
            return 400, {"error": "Invalid request: missing q parameter"}
        key = req.body.get("api_key")
        if not key:
            return 400, {"error": "Visit https://portal.libretranslate.com to get an API key"}
        if key != self.key:
            return 403, {"error": "Invalid API key"}
        return None

    def _translate(self, req: Received) -> Reply:
        body = req.body
        for name in ("q", "source", "target"):
            if not body.get(name):
                return 400, {"error": f"Invalid request: missing {name} parameter"}
        for name in ("source", "target"):
            if body[name] != "auto" and body[name] not in self.codes:
                return 400, {"error": f"{body[name]} is not supported"}
        is_html = body.get("format") == "html"
        keep = _LIBRE_KEEP if is_html else None

        def one(text: str) -> str:
            translated = fake_translate(text, body["target"], keep)
            return html.unescape(translated) if is_html else translated

        q = body["q"]
        if isinstance(q, list):
            return 200, {"translatedText": [one(t) for t in q]}
        return 200, {"translatedText": one(q)}

    def _detect(self, req: Received) -> Reply:
        text = str(req.body.get("q", "")).lower()
        if "hola" in text:
            return 200, [
                {"confidence": 92.0, "language": "es"},
                {"confidence": 12.0, "language": "pt"},
            ]
        return 200, [{"confidence": 80.0, "language": "en"}]
