"""Documents the error answers every operation can give, in the shape it really gives them.

Litestar documents only a generic 400 with its own body; our routes answer with one error
envelope (`api/errors.py`) and the LibreTranslate façade with LibreTranslate's `{"error": ...}`.
Clients generated from the schema (and schemathesis) need both, so they are added to the
generated document once, when the app is built.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType

from service.api.schemas import NON_BLANK
from service.api.usage import LIMIT_TEXT
from service.settings import LimitSettings
from service.translation.languages import code_pattern
from service.usage.budgets import MAX_LIMIT

_ENVELOPE = "ErrorEnvelope"
_LIBRE = "LibreTranslateError"
_JSON = "JsonValue"
# The edge guard (api/guard.py) refuses a NUL character anywhere in a request: in every string,
# every object key, however deep. Every string of the document says so.
NO_NUL = r"^[^\x00]*$"

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


def _structs(base: type[msgspec.Struct] = msgspec.Struct) -> list[type[msgspec.Struct]]:
    found: list[type[msgspec.Struct]] = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_structs(sub))
    return found


def _forbid_unknown_fields(schemas: Mapping[str, Schema | Reference]) -> None:
    """A body that refuses unknown fields says so: `additionalProperties: false` (Litestar does
    not carry msgspec's `forbid_unknown_fields` into the schema)."""
    for struct in _structs():
        component = schemas.get(struct.__name__)
        if (
            struct.__module__.startswith("service.")
            and struct.__struct_config__.forbid_unknown_fields
            and isinstance(component, Schema)
            and component.title == struct.__name__
        ):
            component.additional_properties = False


def _json_value_schema() -> Schema:
    """Any JSON value without a NUL character: what a free-form field accepts."""
    ref = Reference(f"#/components/schemas/{_JSON}")
    return Schema(
        any_of=[
            Schema(type=OpenAPIType.STRING, pattern=NO_NUL),
            Schema(type=OpenAPIType.NUMBER),
            Schema(type=OpenAPIType.BOOLEAN),
            Schema(type=OpenAPIType.NULL),
            Schema(type=OpenAPIType.ARRAY, items=ref),
            Schema(
                type=OpenAPIType.OBJECT,
                property_names=Schema(pattern=NO_NUL),
                additional_properties=ref,
            ),
        ]
    )


def _is_any(node: Schema) -> bool:
    return node == Schema()


def _without_nul(node: Schema | Reference, seen: set[int]) -> None:
    """State NO_NUL on every string and object key under `node` (in place)."""
    if not isinstance(node, Schema) or id(node) in seen:
        return
    seen.add(id(node))
    kinds = node.type if isinstance(node.type, list) else [node.type]
    if (
        OpenAPIType.STRING in kinds
        and node.pattern is None
        and node.enum is None
        and node.const is None
        and node.format is None
    ):
        node.pattern = NO_NUL
    if OpenAPIType.OBJECT in kinds and node.additional_properties is not False:
        node.property_names = Schema(pattern=NO_NUL)
        if node.additional_properties in (None, True):
            node.additional_properties = Reference(f"#/components/schemas/{_JSON}")
    if node.properties:
        for name, value in node.properties.items():
            if isinstance(value, Schema) and _is_any(value):
                node.properties[name] = Reference(f"#/components/schemas/{_JSON}")
    children: list[Schema | Reference] = [
        *(node.properties or {}).values(),
        *(node.all_of or []),
        *(node.any_of or []),
        *(node.one_of or []),
        *(node.prefix_items or []),
    ]
    for single in (node.items, node.additional_properties):
        if isinstance(single, Schema | Reference):
            children.append(single)
    for child in children:
        _without_nul(child, seen)


def _document_nul(schema: OpenAPI) -> None:
    seen: set[int] = set()
    for component in (schema.components.schemas or {}).values() if schema.components else []:
        _without_nul(component, seen)
    for item in (schema.paths or {}).values():
        for operation in _operations(item):
            for parameter in operation.parameters or []:
                if isinstance(parameter, Parameter) and parameter.schema is not None:
                    _without_nul(parameter.schema, seen)
            body = operation.request_body
            if isinstance(body, RequestBody):
                for media in body.content.values():
                    if media.schema is not None:
                        _without_nul(media.schema, seen)


# Answers whose body is not JSON: (path, method) -> media types of the 200 and its headers.
_FILES = {
    ("/api/v1/glossaries/{glossary_id}/export", "get"): (
        ("text/csv; charset=utf-8", "text/tab-separated-values; charset=utf-8"),
        ("Content-Disposition", "X-Glossary-Version"),
    ),
}


# Requests whose body is a file, not JSON: (path, method) -> its media types.
_FILE_BODIES = {
    ("/api/v1/glossaries/{glossary_id}/import", "post"): ("text/csv", "text/tab-separated-values"),
}


def _header() -> OpenAPIHeader:
    return OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING, pattern=NO_NUL), required=True)


def _document_files(schema: OpenAPI) -> None:
    for (path, method), (media_types, headers) in _FILES.items():
        operation = getattr((schema.paths or {})[path], method)
        operation.responses = operation.responses or {}
        operation.responses["200"] = OpenAPIResponse(
            description="The file",
            content={
                m: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)) for m in media_types
            },
            headers={name: _header() for name in headers},
        )

    for (path, method), media_types in _FILE_BODIES.items():
        operation = getattr((schema.paths or {})[path], method)
        operation.request_body = RequestBody(
            required=True,
            content={
                m: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)) for m in media_types
            },
        )


def _document_options(schema: OpenAPI) -> None:
    """Every path answers OPTIONS (Litestar's handler: 204 and `Allow`; the CORS preflight
    outside production), and lists OPTIONS in the `Allow` of its 405s: documented so."""
    for path, item in (schema.paths or {}).items():
        operations = _operations(item)
        if not operations or item.options is not None:
            continue
        first = operations[0]
        item.options = Operation(
            tags=first.tags,
            summary="The methods this path answers (Allow)",
            operation_id=f"{first.operation_id or path}Options",
            security=first.security,
            responses={
                "204": OpenAPIResponse(
                    description="No content; `Allow` lists the methods",
                    headers={"Allow": _header()},
                )
            },
        )


def _property(component: Schema | Reference, name: str) -> Schema:
    assert isinstance(component, Schema) and component.properties is not None
    found = component.properties[name]
    assert isinstance(found, Schema)
    return found


def _string_of(node: Schema) -> Schema:
    """The string alternative of a `string | null` field (or the field itself)."""
    for option in node.one_of or []:
        if isinstance(option, Schema) and option.type == OpenAPIType.STRING:
            return option
    return node


def _array_of(node: Schema) -> Schema:
    for option in node.one_of or []:
        if isinstance(option, Schema) and option.type == OpenAPIType.ARRAY:
            return option
    return node


def _document_translation(schemas: Mapping[str, Schema | Reference], limits: LimitSettings) -> None:
    """What api/translate.py checks in code: known language codes (as `languages.normalize`
    reads them), the server's size limits, and batch's exactly one of target_lang/target_langs.
    Not stated (JSON Schema cannot): the context's characters summed over its messages."""
    code, source = code_pattern(), code_pattern("auto")
    single, batch = schemas["TranslateRequest"], schemas["BatchTranslateRequest"]
    for body in (single, batch, schemas["DetectRequest"]):
        if body is not batch:
            _property(body, "text").max_length = limits.max_text_chars
    for body in (single, batch):
        _property(body, "source_lang").pattern = source
        _property(body, "context").max_items = limits.max_context_messages
    _property(single, "target_lang").pattern = code
    _string_of(_property(batch, "target_lang")).pattern = code
    texts = _property(batch, "texts")
    texts.max_items = limits.max_batch_items
    # Litestar leaves the items' own constraint (schemas.Text) out.
    texts.items = Schema(
        type=OpenAPIType.STRING, pattern=NON_BLANK, max_length=limits.max_text_chars
    )
    targets = _array_of(_property(batch, "target_langs"))
    targets.items = Schema(type=OpenAPIType.STRING, pattern=code)
    targets.min_items, targets.max_items = 1, limits.max_target_langs
    # Exactly one of the two (null counts as absent).
    none = Schema(type=OpenAPIType.NULL)
    assert isinstance(batch, Schema)
    batch.one_of = [
        Schema(
            required=["target_lang"],
            properties={"target_lang": Schema(type=OpenAPIType.STRING), "target_langs": none},
        ),
        Schema(
            required=["target_langs"],
            properties={"target_langs": Schema(type=OpenAPIType.ARRAY), "target_lang": none},
        ),
    ]


def _document_glossaries(schemas: Mapping[str, Schema | Reference]) -> None:
    """An entry's language codes (glossary/terms.py); a blank target_lang is a do-not-translate
    term's. Not stated (JSON Schema cannot): duplicates after normalising, and source and
    target being the same language."""
    entry = schemas["EntryIn"]
    _property(entry, "source_lang").pattern = code_pattern()
    _string_of(_property(entry, "target_lang")).pattern = code_pattern(blank=True)


def _document_budgets(schemas: Mapping[str, Schema | Reference]) -> None:
    """What usage/budgets.py checks: the limit's range, the soft ratio's, and a subject for a
    channel or user budget only (a workspace's has none: absent, null or empty)."""
    update = schemas["BudgetUpdate"]
    assert isinstance(update, Schema)
    for option in _property(update, "monthly_limit").one_of or []:
        if isinstance(option, Schema) and option.type == OpenAPIType.NUMBER:
            option.minimum, option.maximum = 0, float(MAX_LIMIT)
        elif isinstance(option, Schema):
            option.pattern = LIMIT_TEXT
    ratio = _property(update, "soft_limit_ratio").one_of or []
    for option in ratio:
        if isinstance(option, Schema) and option.type == OpenAPIType.NUMBER:
            option.exclusive_minimum, option.maximum = 0, 1
    update.one_of = [
        Schema(
            properties={
                "scope": Schema(const="workspace"),
                "subject": Schema(enum=[None, ""]),
            }
        ),
        Schema(
            required=["subject"],
            properties={
                "scope": Schema(enum=["channel", "user"]),
                "subject": Schema(type=OpenAPIType.STRING, min_length=1, max_length=64),
            },
        ),
    ]


def document_providers(app: Litestar, known: Collection[str]) -> None:
    """`enabled_providers` names providers the server knows (accounts/providers.py refuses
    others), which are known once the server's own are built, at start-up."""
    schemas = app.openapi_schema.components.schemas if app.openapi_schema.components else None
    if not schemas or "ProvidersUpdate" not in schemas:
        return
    names = _array_of(_property(schemas["ProvidersUpdate"], "enabled_providers"))
    names.items = Schema(type=OpenAPIType.STRING, enum=sorted(known))


def document_errors(app: Litestar, limits: LimitSettings) -> None:
    """Add the error responses to every operation of `app`'s OpenAPI document, and the
    constraints the server checks in code to its request bodies."""
    schema = app.openapi_schema
    if schema.components is None:
        schema.components = Components()
    if schema.components.schemas is None:
        schema.components.schemas = {}
    _forbid_unknown_fields(schema.components.schemas)
    _document_translation(schema.components.schemas, limits)
    _document_glossaries(schema.components.schemas)
    _document_budgets(schema.components.schemas)
    schema.components.schemas[_JSON] = _json_value_schema()
    _document_nul(schema)
    _document_files(schema)
    _document_options(schema)
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
