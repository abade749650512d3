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
from litestar.enums import ParamType
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

from service.accounts.channels import MAX_LANGS as MAX_CHANNEL_LANGS
from service.accounts.providers import SPECS
from service.api.schemas import NON_BLANK
from service.api.tokens import RC_CREDENTIAL
from service.api.usage import LIMIT_TEXT
from service.glossary.terms import MAX_ENTRIES, MAX_TERM_CHARS
from service.netpolicy import MAX_URL_CHARS, OutboundPolicy
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
    "/api/v1/translate": {
        402: "A budget's hard limit would be crossed (budget_exceeded)",
        409: "The provider named is not enabled for the workspace (provider_not_enabled)",
    },
    "/api/v1/providers/": {
        409: "A first configuration without the key or URL it needs, or a new URL without "
        "the key (api_key_required, base_url_required)",
    },
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
    422: "The body contains a NUL character (refused before it is read)",
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


# A term as glossary/terms.py reads it: surrounding white space dropped, then 1 to
# MAX_TERM_CHARS characters without a tab, line break, NUL or the engine's ⟦ ⟧ brackets.
_TERM_EDGE = r"[^\s\x00⟦⟧]"
_TERM = rf"^\s*{_TERM_EDGE}(?:[^\t\r\n\x00⟦⟧]{{0,{MAX_TERM_CHARS - 2}}}{_TERM_EDGE})?\s*$"
_BLANK = r"^\s*$"


def _document_glossaries(schemas: Mapping[str, Schema | Reference]) -> None:
    """An entry as glossary/terms.py checks it: language codes, terms, and a target language
    when there is a target term (without one, it is a do-not-translate term). Not stated
    (JSON Schema cannot): duplicates after normalising, and source and target being the same
    language."""
    entry = schemas["EntryIn"]
    assert isinstance(entry, Schema)
    _property(entry, "source_lang").pattern = code_pattern()
    _string_of(_property(entry, "target_lang")).pattern = code_pattern(blank=True)
    _property(entry, "source_term").pattern = _TERM
    _string_of(_property(entry, "target_term")).pattern = f"{_BLANK}|{_TERM}"
    # A target term needs its language.
    entry.schema_if = Schema(
        required=["target_term"],
        properties={"target_term": Schema(type=OpenAPIType.STRING, pattern=_TERM)},
    )
    entry.then = Schema(
        required=["target_lang"],
        properties={"target_lang": Schema(type=OpenAPIType.STRING, pattern=code_pattern())},
    )
    for body in ("GlossaryCreate", "GlossaryUpdate"):
        entries = _array_of(_property(schemas[body], "entries"))
        entries.max_items, entries.unique_items = MAX_ENTRIES, True


def _document_channels(schemas: Mapping[str, Schema | Reference]) -> None:
    """What accounts/channels.py checks: known language codes, at most 100 of each list; and
    the bound of zero Litestar drops (`ge=0` reads to it as no bound)."""
    update = schemas["ChannelUpdate"]
    _property(update, "max_cost_per_message").minimum = 0
    for field in ("allowed_langs", "blocked_langs"):
        codes = _array_of(_property(update, field))
        codes.items = Schema(type=OpenAPIType.STRING, pattern=code_pattern())
        codes.max_items = MAX_CHANNEL_LANGS


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


# LibreTranslate's own spellings (api/libretranslate.py) -> the code they stand for.
_LEGACY = {"pb": "pt-BR", "zt": "zh-Hant"}
_LIBRE_BODIES = {
    "/libretranslate/translate": ("LibreTranslateRequest", "LibreTranslateForm"),
    "/libretranslate/detect": ("LibreDetectRequest", "LibreDetectForm"),
}


def _libre_codes(served: Collection[str] | None) -> tuple[str, str]:
    """The patterns of `source` and `target`: the codes the server's engines serve (all known
    codes until they are built), LibreTranslate's legacy spellings, and `auto` as a source."""
    legacy = [k for k, code in _LEGACY.items() if served is None or code in served]
    target = code_pattern(*legacy, among=served)
    return f"^auto$|{target}", target


def _document_libretranslate(schema: OpenAPI, limits: LimitSettings) -> None:
    """The JSON and form bodies LibreTranslate's routes read (api/libretranslate.py): `q`, the
    languages, the format and the API key are required or refused as stated. Not stated (JSON
    Schema cannot): the characters of an array of texts, summed, within the text limit."""
    assert schema.components is not None and schema.components.schemas is not None
    limit = limits.max_text_chars
    text = Schema(type=OpenAPIType.STRING, min_length=1, max_length=limit)
    texts = Schema(
        type=OpenAPIType.ARRAY,
        min_items=1,
        items=Schema(type=OpenAPIType.STRING, max_length=limit),
    )
    source, target = _libre_codes(None)
    key = Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        description="An API key with the translate scope (a form may send it in the query)",
    )

    def body(*, form: bool, translate: bool) -> Schema:
        fields: dict[str, Schema | Reference] = {
            "q": text if form else Schema(one_of=[text, texts]),
            "api_key": key,
        }
        if translate:
            fields["source"] = Schema(type=OpenAPIType.STRING, pattern=source)
            fields["target"] = Schema(type=OpenAPIType.STRING, pattern=target)
            # Absent, null or empty: text.
            formats: list[str | None] = ["text", "html", ""]
            fields["format"] = Schema(enum=formats if form else [*formats, None])
        return Schema(
            type=OpenAPIType.OBJECT,
            required=sorted(fields.keys() - {"format"}),
            properties=fields,
            # Other fields (`alternatives`, ...) are ignored, as LibreTranslate ignores them.
            additional_properties=Schema(type=OpenAPIType.STRING) if form else None,
        )

    for path, (json_name, form_name) in _LIBRE_BODIES.items():
        translate = path.endswith("/translate")
        schema.components.schemas[json_name] = body(form=False, translate=translate)
        schema.components.schemas[form_name] = body(form=True, translate=translate)
        operation = (schema.paths or {})[path].post
        assert operation is not None
        operation.request_body = RequestBody(
            required=True,
            content={
                "application/json": OpenAPIMediaType(
                    schema=Reference(f"#/components/schemas/{json_name}")
                ),
                "application/x-www-form-urlencoded": OpenAPIMediaType(
                    schema=Reference(f"#/components/schemas/{form_name}")
                ),
            },
        )


# What accounts/providers.py checks of a provider's `base_url` (netpolicy.check_url): an http(s)
# URL (https only where the policy says so), a host name whose last label is not a number or a
# dotted-quad IPv4 address, an optional port, a path; no credentials, query or fragment, spaces
# or controls. In production the host must also be public: the description says so.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PORT = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_NAME = r"(?:[A-Za-z0-9_-]+\.)*[A-Za-z][A-Za-z0-9_-]*\.?"


def url_pattern(policy: OutboundPolicy) -> str:
    scheme = "[hH][tT][tT][pP][sS]?" if policy.allow_http else "[hH][tT][tT][pP][sS]"
    host = f"(?:{_NAME}|(?:{_OCTET}\\.){{3}}{_OCTET})"
    return (
        rf"^\s*(?=\S{{1,{MAX_URL_CHARS}}}\s*$){scheme}://{host}(?::{_PORT})?"
        r"(?:/[^\x00-\x20\x7f?#]*)?\s*$"
    )


def _document_credentials(
    schema: OpenAPI, schemas: Mapping[str, Schema | Reference], policy: OutboundPolicy
) -> None:
    """PUT /providers/{name}: the configurable providers' names, and the URL policy. Not stated
    (JSON Schema cannot tie a body to its path's name): which provider needs a key, has models,
    or needs a URL; the state-dependent ones (a first key, a stored URL) answer 409."""
    url = _string_of(_property(schemas["CredentialUpdate"], "base_url"))
    url.pattern = url_pattern(policy)
    if policy.enforce:
        url.description = "A public host: loopback, private and internal addresses are refused"
    operation = (schema.paths or {})["/api/v1/providers/{name}"].put
    assert operation is not None
    for parameter in operation.parameters or []:
        if isinstance(parameter, Parameter) and parameter.name == "name":
            parameter.schema = Schema(type=OpenAPIType.STRING, enum=sorted(SPECS))


# Where POST /auth/rocketchat also reads the Rocket.Chat login (api/tokens.py).
_RC_HEADERS = {"X-User-Id": "The Rocket.Chat user id", "X-Auth-Token": "The Rocket.Chat token"}


def _document_login_headers(schema: OpenAPI, credential: str) -> None:
    operation = (schema.paths or {})["/api/v1/auth/rocketchat"].post
    assert operation is not None
    operation.parameters = [
        *(operation.parameters or []),
        *(
            Parameter(
                name=name,
                param_in=ParamType.HEADER,
                required=False,
                description=f"{description}, when the body does not give it",
                schema=Schema(type=OpenAPIType.STRING, pattern=credential),
            )
            for name, description in _RC_HEADERS.items()
        ),
    ]


def document_providers(app: Litestar, known: Collection[str], served: Collection[str]) -> None:
    """What is known once the server's own providers are built, at start-up: the provider names
    (`enabled_providers` and a translation's `provider`; accounts/providers.py and the engine
    refuse others) and the languages the LibreTranslate routes serve."""
    schemas = app.openapi_schema.components.schemas if app.openapi_schema.components else None
    if not schemas or "ProvidersUpdate" not in schemas:
        return
    names = _array_of(_property(schemas["ProvidersUpdate"], "enabled_providers"))
    names.items = Schema(type=OpenAPIType.STRING, enum=sorted(known))
    for body in ("TranslateRequest", "BatchTranslateRequest"):
        _string_of(_property(schemas[body], "provider")).enum = sorted(known)
    source, target = _libre_codes(served)
    for name in ("LibreTranslateRequest", "LibreTranslateForm"):
        _property(schemas[name], "source").pattern = source
        _property(schemas[name], "target").pattern = target


def document_errors(app: Litestar, limits: LimitSettings, policy: OutboundPolicy) -> None:
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
    _document_channels(schema.components.schemas)
    _document_credentials(schema, schema.components.schemas, policy)
    _document_login_headers(schema, RC_CREDENTIAL)
    _document_libretranslate(schema, limits)
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
