"""ASGI middleware: request ids, access logs and HTTP metrics, in one pass per request."""

from __future__ import annotations

import functools
import logging
import re
import time
from typing import Any, Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.ids import random_hex
from service.observability import metrics
from service.observability.logging import request_id_var, workspace_id_var

log = logging.getLogger("utp.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@functools.lru_cache(maxsize=1024)
def _series(route: str, method: str, status_class: int) -> tuple[Any, Any]:
    """The metric children of one route/method/status class, looked up once, not per request.

    Bounded: routes are templates (or "unmatched") and the server only parses known methods."""
    return (
        metrics.HTTP_REQUESTS.labels(route=route, method=method, status_class=f"{status_class}xx"),
        metrics.HTTP_LATENCY.labels(route=route, method=method),
    )


# Every answer is JSON, a CSV file or a docs page: nothing may sniff it into something else,
# frame it, or learn the URL it came from.
_COMMON: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_API_CSP: Final = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The OpenAPI pages (/schema, served outside production unless switched on) run the UI's
# scripts and styles from the CDN Litestar renders them with, and fetch the document itself.
_DOCS_CSP: Final = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    b"https://unpkg.com; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net "
    b"https://unpkg.com https://fonts.googleapis.com; font-src https://fonts.gstatic.com data:; "
    b"img-src 'self' data: https://cdn.jsdelivr.net; connect-src 'self'; "
    b"frame-ancestors 'none'",
)
# The web console (service/console/): its one script and stylesheet, its own API, nothing inline.
_CONSOLE_CSP: Final = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
)
_HSTS: Final = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers(path: str, *, production: bool) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to `path`."""
    if path.startswith("/schema"):
        csp = _DOCS_CSP
    elif path == "/console" or path.startswith("/console/"):
        csp = _CONSOLE_CSP
    else:
        csp = _API_CSP
    headers = [*_COMMON, csp]
    if production:
        # Production is served over TLS (the ingress terminates it); browsers stay on https.
        headers.append(_HSTS)
    return headers


def request_context(app: ASGIApp, *, production: bool = False) -> ASGIApp:
    api_headers = security_headers("/", production=production)
    docs_headers = security_headers("/schema", production=production)
    console_headers = security_headers("/console", production=production)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method: str = scope["method"]
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        # Clients may correlate with their own id; anything odd is replaced, not echoed.
        request_id = incoming if incoming and _VALID_ID.match(incoming) else random_hex()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        ws_token = workspace_id_var.set(None)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                path: str = scope["path"]
                if path.startswith("/schema"):
                    headers += docs_headers
                elif path.startswith("/console"):
                    headers += console_headers
                else:
                    headers += api_headers
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("path_template") or "unmatched"
            count, latency = _series(route, method, status // 100)
            count.inc()
            latency.observe(elapsed)
            if route not in ("/metrics", "/health/live", "/health/ready"):
                log.info(
                    "request",
                    extra={
                        "route": route,
                        "method": method,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)
            workspace_id_var.reset(ws_token)

    return middleware
