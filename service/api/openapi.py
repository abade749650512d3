"""Documents the error answers every operation can give, in the shape it really gives them.

Litestar documents only a generic 400 with its own body; our routes answer with one error
envelope (`api/errors.py`) and the LibreTranslate façade with LibreTranslate's `{"error": ...}`.
Clients generated from the schema (and schemathesis) need both, so they are added to the
generated document once, when the app is built.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType

_ENVELOPE = "ErrorEnvelope"
_LIBRE = "LibreTranslateError"

# What any authenticated /api/v1 route may answer (see README, "Every error has one shape").
_API_ERRORS = {
    400: "The body is not valid JSON (malformed_body)",
    401: "Missing, unknown, revoked or expired credentials",
    403: "The key or token lacks the scope or role",
    404: "Not found (or another workspace's)",
    413: "The body is larger than UTP_MAX_BODY_BYTES",
    422: "A field is invalid (validation_error, unknown_language, text_too_long, ...)",
    429: "Rate limited; see Retry-After",
    503: "A dependency is unavailable (translation_unavailable, service_unavailable), or a "
    "write while this region's database is a read-only replica (read_only_region); "
    "see Retry-After",
}
# Route-specific ones, by path prefix under /api/v1.
_SPECIFIC = {
    "/api/v1/translate": {402: "A budget's hard limit would be crossed (budget_exceeded)"},
    "/api/v1/auth/rocketchat": {409: "Rocket.Chat is not configured for the workspace"},
    "/api/v1/channels": {409: "Rocket.Chat is not configured for the workspace"},
    "/api/v1/glossaries": {
        409: "The workspace already has a glossary of that name",
        415: "The import file is neither CSV nor TSV",
    },
}
# Rocket.Chat's outgoing webhook: authenticated by the token in its body.
_WEBHOOK_ERRORS = {
    400: "The body is not valid JSON (malformed_body)",
    403: "The token belongs to no workspace",
    413: "The body is larger than UTP_MAX_BODY_BYTES",
    422: "A field is invalid (validation_error)",
    503: "A dependency is unavailable; see Retry-After",
}
_LIBRE_ERRORS = {
    400: "Invalid request (a missing or invalid parameter, no API key)",
    402: "A budget's hard limit would be crossed",
    403: "Invalid API key",
    413: "The body is too large",
    429: "Slowdown: rate limited",
    500: "Cannot translate text (every engine failed), as LibreTranslate answers",
    503: "A dependency is unavailable",
}


def _envelope_schema() -> Schema:
    nullable_string = Schema(
        one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)]
    )
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["error"],
        properties={
            "error": Schema(
                type=OpenAPIType.OBJECT,
                required=["code", "message", "request_id"],
                properties={
                    "code": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                    "details": Schema(description="Machine-readable details; shape per code"),
                    "request_id": nullable_string,
                },
            )
        },
    )


def _libre_schema() -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["error"],
        properties={"error": Schema(type=OpenAPIType.STRING)},
    )


def _response(description: str, component: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        content={
            "application/json": OpenAPIMediaType(
                schema=Reference(f"#/components/schemas/{component}")
            )
        },
    )


def _operations(item: object) -> list[Operation]:
    methods = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    found = [getattr(item, m, None) for m in methods]
    return [op for op in found if isinstance(op, Operation)]


def document_errors(app: Litestar) -> None:
    """Add the error responses to every operation of `app`'s OpenAPI document."""
    schema = app.openapi_schema
    if schema.components is None:
        schema.components = Components()
    if schema.components.schemas is None:
        schema.components.schemas = {}
    schema.components.schemas[_ENVELOPE] = _envelope_schema()
    schema.components.schemas[_LIBRE] = _libre_schema()
    for path, item in (schema.paths or {}).items():
        if path.startswith("/libretranslate"):
            errors, component = _LIBRE_ERRORS, _LIBRE
        elif path.startswith("/api/"):
            errors = dict(_API_ERRORS)
            for prefix, extra in _SPECIFIC.items():
                if path.startswith(prefix):
                    errors |= extra
            component = _ENVELOPE
        elif path.startswith("/integrations/"):
            errors, component = _WEBHOOK_ERRORS, _ENVELOPE
        else:
            continue
        for operation in _operations(item):
            responses = operation.responses if operation.responses is not None else {}
            for status, description in errors.items():
                # Replaces Litestar's generic 400, whose body is not what we send.
                responses[str(status)] = _response(description, component)
            operation.responses = responses
