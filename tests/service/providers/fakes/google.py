"""Fake Google Cloud Translation v2: translate and detect, key in the query string."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from .base import Fake, Received, Reply, Scripted, fake_translate, is_str_list

_HTML_KEEP = re.compile(r"<span\b[^>]*translate=\"no\"[^>]*>.*?</span>|<[^>]+>|&[#\w]+;")


def google_error(code: int, reason: str, message: str, status: str = "") -> Scripted:
    error = {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": "usageLimits", "reason": reason}],
        "status": status
        or {403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED"}.get(code, "UNKNOWN"),
    }
    return Scripted(code, {"error": error})


class GoogleFake(Fake):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def routes(self) -> list[HTTPRouteHandler]:
        @post("/language/translate/v2", status_code=200)
        async def translate(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._translate)

        @post("/language/translate/v2/detect", status_code=200)
        async def detect(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._detect)

        return [translate, detect]

    def check(self, req: Received) -> Reply | None:
        key = req.query.get("key")
        if not key:
            message = "The request is missing a valid API key."
            return 403, {
                "error": {
                    "code": 403,
                    "message": message,
                    "status": "PERMISSION_DENIED",
                    "errors": [{"message": message, "domain": "global", "reason": "forbidden"}],
                }
            }
        if key != self.key:
            message = "API key not valid. Please pass a valid API key."
            return 400, {
                "error": {
                    "code": 400,
                    "message": message,
                    "status": "INVALID_ARGUMENT",
                    "errors": [{"message": message, "domain": "global", "reason": "badRequest"}],
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                        }
                    ],
                }
            }
        if not isinstance(req.body, dict):
            return 400, {
                "error": {
                    "code": 400,
                    "message": "Invalid JSON payload received.",
                    "status": "INVALID_ARGUMENT",
                }
            }
        return None

    def _translate(self, req: Received) -> Reply:
        body = req.body
        q = body.get("q")
        if not is_str_list(q) or not q:
            return 400, {
                "error": {"code": 400, "message": "Required Text", "status": "INVALID_ARGUMENT"}
            }
        if len(q) > 128:
            return 400, {
                "error": {
                    "code": 400,
                    "message": "Too many text segments",
                    "status": "INVALID_ARGUMENT",
                }
            }
        if not isinstance(body.get("target"), str):
            return 400, {
                "error": {"code": 400, "message": "Required Target", "status": "INVALID_ARGUMENT"}
            }
        keep = _HTML_KEEP if body.get("format") == "html" else None
        items = []
        for text in q:
            translated = fake_translate(text, body["target"], keep)
            if keep:
                # Like Google, answer html with apostrophes as entities.
                parts = _HTML_KEEP.split(translated)
                spans = _HTML_KEEP.findall(translated)
                translated = "".join(
                    p.replace("'", "&#39;") + (spans[i] if i < len(spans) else "")
                    for i, p in enumerate(parts)
                )
            item = {"translatedText": translated}
            if "source" not in body:
                item["detectedSourceLanguage"] = "en"
            items.append(item)
        return 200, {"data": {"translations": items}}

    def _detect(self, req: Received) -> Reply:
        q = req.body.get("q")
        texts = q if isinstance(q, list) else [q]
        detections = []
        for text in texts:
            spanish = any(w in str(text).lower() for w in ("hola", "gracias", "¿"))
            detections.append(
                [{"language": "es" if spanish else "en", "confidence": 0.93, "isReliable": False}]
            )
        return 200, {"data": {"detections": detections}}
