"""A LibreTranslate-compatible API at /libretranslate, for Rocket.Chat's native auto-translate.

Requests, replies, statuses and error messages follow LibreTranslate's own server
(`libretranslate/app.py` of LibreTranslate/LibreTranslate), not this service's error envelope:
its clients (Rocket.Chat, `libretranslatepy`) only understand `{"error": "..."}`. As there, the
API key travels in the request: the JSON body's `api_key`, or for form requests a form field or
the query string. Language codes are this service's BCP 47 codes (`pt-BR`, `zh-Hans`), because
Rocket.Chat parses every code of `GET /languages` as a locale.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException

from service.accounts.keys import KeyVerifier, Principal
from service.api.auth import authenticate
from service.api.context import caller_of
from service.container import Services
from service.errors import BudgetExceeded, RateLimited, ServiceError, Unauthorized, UnsupportedPair
from service.translation import languages, markup
from service.translation.engine import UNDETERMINED, Engine, Outcome

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]
JSONResponse = Response[Any]

# LibreTranslate's messages, word for word.
MISSING_KEY: Final = "Please contact the server operator to get an API key"
INVALID_KEY: Final = "Invalid API key"
INVALID_JSON: Final = "Invalid JSON format"
# What Flask answers (outside debug mode) when a JSON body does not parse.
BAD_REQUEST: Final = "The browser (or proxy) sent a request that this server could not understand."

# LibreTranslate's own spellings that are not BCP 47; accepted, never listed.
_LEGACY_CODES: Final = {"pb": "pt-BR", "zt": "zh-Hant"}

# With format=html every tag and entity is kept as it is, as is a no-translate span as a whole.
_HTML_MARKUP: Final = re.compile(
    r"<i class=\"?notranslate\"?>.*?</i>"
    r"|<!--.*?-->"
    r"|</?[A-Za-z!][^<>]*>"
    r"|&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);",
    re.DOTALL,
)
_SHIELDED: Final = re.compile(
    re.escape(markup.OPEN) + r"((?:<|&)[^" + markup.CLOSE + r"]*)" + re.escape(markup.CLOSE)
)


class LibreTranslateError(Exception):
    """Ends a request with LibreTranslate's error shape: `{"error": message}`."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def _missing(name: str) -> LibreTranslateError:
    return LibreTranslateError(400, f"Invalid request: missing {name} parameter")


# -- routes ------------------------------------------------------------------------------


@post("/translate", status_code=200, summary="Translate text (LibreTranslate API)")
async def translate(request: AnyRequest, services: Services) -> JSONResponse:
    settings, engine = services.settings, services.engine
    params, is_json = await _params(request)
    await _authorise(request, services.key_verifier, params)

    q = params.get("q")
    if not q:
        raise _missing("q")
    source_code = params.get("source")
    if not source_code:
        raise _missing("source")
    target_code = params.get("target")
    if not target_code:
        raise _missing("target")
    texts = _texts(q)
    if not is_json:
        # As LibreTranslate does for form bodies: LF line endings only, before counting.
        texts = ["\n".join(t.splitlines()) for t in texts]
    batch = isinstance(q, list)

    limit = settings.limits.max_text_chars
    chars = sum(len(t) for t in texts)
    if chars > limit:
        raise LibreTranslateError(
            400, f"Invalid request: request ({chars}) exceeds text limit ({limit})"
        )

    served = _served(engine)
    auto = source_code == languages.AUTO
    source = None if auto else _language(source_code, served)
    target = _language(target_code, served)

    # Absent, null or empty: text, as LibreTranslate reads it; any other value but the two
    # formats (a number, `false`, a list) is refused, as the OpenAPI document states.
    text_format = params.get("format")
    if text_format is None or text_format == "":
        text_format = "text"
    if text_format not in ("text", "html"):
        raise LibreTranslateError(400, f"{text_format} format is not supported")
    if text_format == "html":
        texts = [_shield_html(t) for t in texts]

    # The same admission as the v1 API (rate limits, budgets, workspace keys, glossary and
    # priors); each line is one translation (Rocket.Chat sends a message's lines as one request).
    admission = await services.translator.admit(caller_of(request), cost=len(texts))
    options = await admission.options(target=target, source=source, shared_detection=True)
    outcomes = await admission.translate(texts, options)
    for outcome in outcomes:
        if outcome.error is not None:
            raise _translation_error(outcome.error, outcome)

    translated = [o.text for o in outcomes]
    if text_format == "html":
        translated = [_unshield_html(t) for t in translated]
    body: dict[str, Any] = {"translatedText": translated if batch else translated[0]}
    if auto:
        detected = [_detected(o) for o in outcomes]
        body["detectedLanguage"] = detected if batch else detected[0]
    return Response(body, status_code=200)


@post("/detect", status_code=200, summary="Detect the language of a text (LibreTranslate API)")
async def detect(request: AnyRequest, services: Services) -> JSONResponse:
    settings, engine = services.settings, services.engine
    params, _ = await _params(request)
    await _authorise(request, services.key_verifier, params)
    q = params.get("q")
    if not q:
        raise _missing("q")
    text = "\n".join(_texts(q))
    limit = settings.limits.max_text_chars
    if len(text) > limit:
        raise LibreTranslateError(
            400, f"Invalid request: request ({len(text)}) exceeds text limit ({limit})"
        )
    await services.translator.limit(caller_of(request))  # the v1 detect's rate limits
    result = await engine.detect(text)
    if result.language == UNDETERMINED:
        # LibreTranslate's answer when nothing is detectable.
        return Response([{"confidence": 0.0, "language": "en"}], status_code=200)
    ranked = [(result.language, result.confidence), *result.alternatives]
    return Response(
        [{"confidence": _percent(conf), "language": code} for code, conf in ranked],
        status_code=200,
    )


@get("/languages", summary="Languages and their targets (LibreTranslate API; public)")
async def list_languages(services: Services) -> JSONResponse:
    engine = services.engine
    served = sorted(_served(engine))
    return Response(
        [
            {
                "code": code,
                "name": languages.name(code),
                "targets": [
                    t
                    for t in served
                    if not languages.same_language(code, t) and engine.router.supporting(code, t)
                ],
            }
            for code in served
        ],
        status_code=200,
    )


@get("/frontend/settings", summary="Client settings (LibreTranslate API; public)")
async def frontend_settings(services: Services) -> JSONResponse:
    settings, engine = services.settings, services.engine
    served = _served(engine)
    target = next((c for c in ("es", "en") if c in served), min(served, default="en"))
    return Response(
        {
            "charLimit": settings.limits.max_text_chars,
            "frontendTimeout": 500,
            "apiKeys": True,
            "keyRequired": True,
            "suggestions": False,
            "filesTranslation": False,
            "supportedFilesFormat": [],
            "language": {
                "source": {"code": "auto", "name": "Auto Detect"},
                "target": {"code": target, "name": languages.name(target)},
            },
        },
        status_code=200,
    )


# -- request parsing and access ----------------------------------------------------------


def _is_json(request: AnyRequest) -> bool:
    # Flask's `request.is_json`: application/json or application/*+json.
    mimetype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


async def _params(request: AnyRequest) -> tuple[Mapping[str, Any], bool]:
    """The request's parameters, read where LibreTranslate reads them, and whether it was JSON.

    JSON requests: the body's object only. Others: the query string, then the form
    (urlencoded or multipart), first value of each name, as Werkzeug's `request.values`.
    """
    if _is_json(request):
        try:
            data = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise LibreTranslateError(400, BAD_REQUEST) from None
        if not isinstance(data, dict):
            raise LibreTranslateError(400, INVALID_JSON)
        return data, True
    values: dict[str, Any] = {}
    for name, value in request.query_params.items():
        values.setdefault(name, value)
    form = await request.form()
    for name, value in form.items():
        if not isinstance(value, UploadFile):
            values.setdefault(name, value)
    return values, False


async def _authorise(
    request: AnyRequest, verifier: KeyVerifier, params: Mapping[str, Any]
) -> Principal:
    key = params.get("api_key")
    if not key:
        raise LibreTranslateError(400, MISSING_KEY)
    if not isinstance(key, str):
        raise LibreTranslateError(403, INVALID_KEY)
    try:
        principal = await authenticate(request, verifier, key.strip())
    except Unauthorized:
        raise LibreTranslateError(403, INVALID_KEY) from None
    if "translate" not in principal.scopes:
        raise LibreTranslateError(403, INVALID_KEY)
    return principal


def _texts(q: Any) -> list[str]:
    if isinstance(q, str):
        return [q]
    if isinstance(q, list) and all(isinstance(t, str) for t in q):
        return q
    raise LibreTranslateError(400, "Invalid request: q must be a string or an array of strings")


def _served(engine: Engine) -> set[str]:
    return {code for provider in engine.providers for code in provider.languages()}


def _language(code: Any, served: set[str]) -> str:
    """The canonical code for `code`, or LibreTranslate's 400 naming it as sent."""
    canonical = None
    if isinstance(code, str):
        canonical = languages.normalize(code) or _LEGACY_CODES.get(code.strip().lower())
    if canonical is None or canonical not in served:
        raise LibreTranslateError(400, f"{code} is not supported")
    return canonical


# -- replies -----------------------------------------------------------------------------


def _percent(confidence: float) -> float:
    return round(max(0.0, min(1.0, confidence)) * 100, 1)


def _detected(outcome: Outcome) -> dict[str, Any]:
    if outcome.source == UNDETERMINED:
        # Nothing language-like in the text: LibreTranslate says English with zero confidence.
        return {"confidence": 0.0, "language": "en"}
    confidence = outcome.detected_confidence
    return {
        "confidence": 100.0 if confidence is None else _percent(confidence),
        "language": outcome.source,
    }


def _translation_error(error: ServiceError, outcome: Outcome) -> LibreTranslateError:
    if isinstance(error, UnsupportedPair):
        return LibreTranslateError(
            400,
            f"{languages.name(outcome.target)} ({outcome.target}) is not available as a target "
            f"language from {languages.name(outcome.source)} ({outcome.source})",
        )
    if isinstance(error, RateLimited):
        return _slowdown(error)
    if isinstance(error, BudgetExceeded):
        # LibreTranslate has no spending limits; keep its error shape with the honest status.
        return LibreTranslateError(402, error.message, error.headers)
    log.warning("LibreTranslate API: translation failed: %s", error.message)
    return LibreTranslateError(500, f"Cannot translate text: {error.message}", error.headers)


def _slowdown(error: RateLimited) -> LibreTranslateError:
    """LibreTranslate's 429, `Slowdown: <limit>`, e.g. "Slowdown: 30 per 1 minute"."""
    limit = (error.details or {}).get("limit")
    description = f"{limit} per 1 minute" if isinstance(limit, int) else error.message
    return LibreTranslateError(429, f"Slowdown: {description}", error.headers)


def _shield_html(text: str) -> str:
    """Wrap tags and entities as sentinel-looking text, which the engine keeps byte for byte."""
    return _HTML_MARKUP.sub(
        lambda m: (
            m.group(0) if markup.CLOSE in m.group(0) else f"{markup.OPEN}{m.group(0)}{markup.CLOSE}"
        ),
        text,
    )


def _unshield_html(text: str) -> str:
    return _SHIELDED.sub(lambda m: m.group(1), text)


# -- errors ------------------------------------------------------------------------------


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return Response({"error": message}, status_code=status, headers=dict(headers or {}))


def _on_error(_: AnyRequest, exc: LibreTranslateError) -> JSONResponse:
    return _error(exc.status, exc.message, exc.headers)


def _on_service_error(_: AnyRequest, exc: ServiceError) -> JSONResponse:
    if isinstance(exc, RateLimited):
        slow = _slowdown(exc)
        return _error(slow.status, slow.message, slow.headers)
    if exc.status_code == 401:
        return _error(403, INVALID_KEY)
    return _error(exc.status_code, exc.message, exc.headers)


def _on_http_error(_: AnyRequest, exc: HTTPException) -> JSONResponse:
    return _error(exc.status_code, str(exc.detail), exc.headers)


def _on_unhandled(request: AnyRequest, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.scope.get("path_template"))
    return _error(500, "Internal server error")


router = Router(
    path="/libretranslate",
    route_handlers=[translate, detect, list_languages, frontend_settings],
    tags=["libretranslate"],
    exception_handlers={
        LibreTranslateError: _on_error,
        ServiceError: _on_service_error,
        HTTPException: _on_http_error,
        Exception: _on_unhandled,
    },
)
