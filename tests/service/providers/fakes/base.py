"""Shared machinery of the fakes: recording, scripted faults, the uvicorn thread."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response
from litestar.handlers import HTTPRouteHandler


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any
    size: int
    # What the fake answered (status, body): contract tests hold it to the vendor's schema.
    reply: tuple[int, Any] | None = None


@dataclass
class Scripted:
    """A reply a test forces: an error body with status and headers, or just a delay."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Reply = tuple[int, Any]
_INVALID = object()


def fake_translate(
    text: str, target: str, keep: re.Pattern[str] | None, glossary: dict[str, str] | None = None
) -> str:
    """Upper-case what an engine would translate; spans matching `keep` pass through untouched.

    Like a real engine that is not told to leave them alone, it mangles bare sentinels.
    """
    out: list[str] = []
    pos = 0
    spans = list(keep.finditer(text)) if keep else []
    for match in [*spans, None]:
        end = match.start() if match else len(text)
        out.append(_translate_words(text[pos:end], glossary or {}))
        if match:
            out.append(match.group(0))
            pos = match.end()
    return f"[{target}] " + "".join(out)


def _translate_words(segment: str, glossary: dict[str, str]) -> str:
    if glossary:
        terms = re.compile("|".join(re.escape(t) for t in sorted(glossary, key=len, reverse=True)))
        pieces, pos = [], 0
        for m in terms.finditer(segment):
            pieces.append(_translate_words(segment[pos : m.start()], {}))
            pieces.append(glossary[m.group(0)])
            pos = m.end()
        pieces.append(_translate_words(segment[pos:], {}))
        return "".join(pieces)
    return segment.upper().replace("⟦", "[").replace("⟧", "]")


class Fake:
    """Base: recording, scripted faults and the uvicorn thread. Subclasses add routes."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[Scripted] = deque()
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- test API -----------------------------------------------------------------------
    def enqueue(self, *replies: Scripted) -> None:
        self.script.extend(replies)

    def reset(self) -> None:
        self.received.clear()
        self.script.clear()

    def requests_to(self, path: str, method: str | None = None) -> list[Received]:
        return [r for r in self.received if r.path == path and method in (None, r.method)]

    # -- plumbing -----------------------------------------------------------------------
    def routes(self) -> list[HTTPRouteHandler]:
        raise NotImplementedError

    def check(self, req: Received) -> Reply | None:
        """The real API's error for a bad auth header or body, or None when acceptable."""
        return None

    async def dispatch(
        self, request: Request[Any, Any, Any], handle: Callable[[Received], Reply]
    ) -> Response[Any]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = _INVALID
        req = Received(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params.items()),
            body=body,
            size=len(raw),
        )
        self.received.append(req)
        reply = self.check(req)
        if reply is None and self.script:
            scripted = self.script.popleft()
            if scripted.delay:
                await asyncio.sleep(scripted.delay)
            if scripted.status is not None:
                req.reply = (scripted.status, scripted.body)
                return _response(scripted.status, scripted.body, scripted.headers)
        if reply is None:
            reply = handle(req)
        req.reply = reply
        return _response(*reply)

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = Litestar(route_handlers=self.routes(), logging_config=None)
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    if status == 204:
        return Response(b"", status_code=status, headers=headers)
    if isinstance(body, str):
        return Response(body, status_code=status, headers=headers, media_type="text/plain")
    return Response(body, status_code=status, headers=headers)


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
