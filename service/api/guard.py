"""The edge check every request passes before its handler parses it: text PostgreSQL cannot
store, JSON nested deeper than anything the API takes, and a query parameter given twice.

PostgreSQL's `text` cannot hold NUL (U+0000). A value with one that got past the edge was
answered 200 and then refused by the database, long after the reply (the usage ledger, the
translation memory), or gave a 500 where it was written at once (a glossary's name, a budget's
subject). So NUL is refused here, in the path, the query string and the body, with 422 naming
the field; lone UTF-16 surrogates, the other thing PostgreSQL refuses, never get this far
(msgspec rejects them in JSON, and URL decoding replaces them).

Deeply nested JSON made the decoder raise `RecursionError` (a 500 with a traceback, before any
authentication on the webhook and LibreTranslate routes): bodies nested deeper than
`MAX_JSON_DEPTH` are a 400 here. Both checks cost a substring search and two byte counts on an
ordinary body; the decoded walk runs only when those find something suspicious.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from litestar import Request

from service.errors import BadRequest, ValidationFailed

# The API's deepest legitimate body is a batch's context: object > list > object > string.
MAX_JSON_DEPTH: Final = 32
_NUL_ESCAPE: Final = b"\\u0000"
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
# LibreTranslate's server reads the first of repeated parameters (Werkzeug); so does its façade.
_FIRST_VALUE_WINS: Final = "/libretranslate/"


def _refuse_nul(where: str) -> ValidationFailed:
    return ValidationFailed(
        f"{where}: contains a NUL character (U+0000), which cannot be stored",
        code="validation_error",
        details={"field": where, "reason": "nul_character"},
    )


async def guard(request: Request[Any, Any, Any]) -> None:
    """Litestar `before_request` hook: raises before the handler when the request is unsafe."""
    scope = request.scope
    if "\x00" in scope["path"]:
        raise _refuse_nul("path")
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        name = next((k for k, v in request.query_params.items() if "\x00" in k + v), "query")
        raise _refuse_nul(name)
    if b"&" in query and not scope["path"].startswith(_FIRST_VALUE_WINS):
        names = [name for name, _ in request.query_params.multi_items()]
        repeated = next((name for name in names if names.count(name) > 1), None)
        if repeated is not None:
            # Every query parameter of the API takes one value (the OpenAPI document says so);
            # reading one of several would quietly drop the others.
            raise ValidationFailed(f"{repeated}: given more than once", details={"field": repeated})
    if request.method not in _BODY_METHODS:
        return
    body = await request.body()  # cached on the request: the handler reads the same bytes
    if not body:
        return
    if b"\x00" in body:
        raise _refuse_nul("body")
    content_type = request.headers.get("content-type", "")
    if "x-www-form-urlencoded" in content_type and b"%00" in body:
        raise _refuse_nul("body")
    check_json(body)


def check_json(body: bytes) -> None:
    """Refuse a JSON body nested too deeply (400) or holding NUL in a string (422)."""
    nested = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
    if not nested and _NUL_ESCAPE not in body:
        return
    stripped = body.lstrip()
    if not stripped.startswith((b"{", b"[", b'"')):
        return  # not JSON: the route's own parser answers
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise _too_deep() from None
    except msgspec.DecodeError:
        return  # malformed: the route's own parser answers 400
    _walk(value)


def _too_deep() -> BadRequest:
    return BadRequest(
        f"the request body is nested deeper than {MAX_JSON_DEPTH} levels",
        code="malformed_body",
        details={"max_depth": MAX_JSON_DEPTH},
    )


def _walk(root: Any) -> None:
    """Depth and NUL check over a decoded body, with an explicit stack (no recursion)."""
    stack: list[tuple[Any, str, int]] = [(root, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise _refuse_nul(path or "body")
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    raise _refuse_nul(name)
                stack.append((item, name, depth + 1))
        else:
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
