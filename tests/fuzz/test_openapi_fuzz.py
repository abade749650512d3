"""Schemathesis against the service's own OpenAPI document: every operation, a valid API key,
a bounded number of examples, and every check schemathesis has (the CLI's `--checks all`).

No answer may be a 5xx; every answer matches the schema (status, media type, headers, body,
`Allow`); a request the schema allows is accepted and one it forbids is refused, so the schema
states every constraint the server enforces; authentication is enforced."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    CHECKS,
    content_type_conformance,
    load_all_checks,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import LiveService, operations

EXAMPLES = 15
load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())
# Operations whose schema does not yet state every constraint the server enforces (issue #21),
# with what it misses; they run the answer checks only (no 5xx, answers as documented).
NOT_YET_TRUTHFUL = {
    # `provider` must be one the workspace has enabled: its configuration (state) decides, and
    # the server answers 422 unknown_provider, which no schema can foresee. Language codes,
    # sizes and batch's one of target_lang/target_langs are stated.
    ("POST /api/v1/translate", "positive"): "provider: one the workspace has enabled",
    ("POST /api/v1/translate/batch", "positive"): "provider: one the workspace has enabled",
    # Entries' language codes are stated; JSON Schema cannot state that no two entries are
    # the same after normalising (case, `_`, white space), nor source_lang != target_lang.
    ("POST /api/v1/glossaries", "positive"): "entries: no duplicates; two languages",
    # The file is text/csv or TSV: its rows' rules are not what a JSON Schema describes.
    ("POST /api/v1/glossaries/{glossary_id}/import", "positive"): "the CSV/TSV file's rows",
    # The body's fields may come from headers instead (X-User-Id/X-Auth-Token; the bearer token).
    ("POST /api/v1/auth/rocketchat", "positive"): "user_id/auth_token: body or headers",
    ("POST /api/v1/auth/revoke", "positive"): "token: body or the calling token",
    # Found by the stateful run (a real provider name in the path): a key is required for the
    # first configuration and by some providers only; base_url is checked against the policy.
    ("PUT /api/v1/providers/{name}", "positive"): "api_key per provider; base_url policy",
    # from/to at most 3660 days apart: not expressible in JSON Schema as it stands.
    ("GET /api/v1/usage", "positive"): "from/to: at most 3660 days apart",
    ("GET /api/v1/usage", "negative"): "an empty-array `from` is sent as no parameter",
    # The LibreTranslate API's JSON and form bodies are not described yet.
    ("POST /libretranslate/translate", "positive"): "request bodies undocumented",
    ("POST /libretranslate/detect", "positive"): "request bodies undocumented",
}
ANSWER_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="session")
def api_schema(live_service: LiveService) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_service.url}/schema/openapi.json")


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    served = {result.ok().label for result in api_schema.get_all_operations()}
    assert served == {label for label, _ in operations()}
    # Every exception names an operation and mode that is fuzzed (none outlives its fix).
    assert set(NOT_YET_TRUTHFUL) <= {
        (label, mode.value) for label, mode in (c.values for c in CASES)
    }


# Negative cases break the schema on purpose; an operation without inputs has nothing to break.
CASES = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label, has_input in operations()
    for mode in GenerationMode
    if has_input or mode is GenerationMode.POSITIVE
]


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_operation_conforms(
    label: str,
    mode: GenerationMode,
    api_schema: schemathesis.BaseSchema,
    live_service: LiveService,
) -> None:
    """Valid requests (positive) and requests that break the schema (negative) alike."""
    method, path = label.split(" ", 1)
    checks = ANSWER_CHECKS if (label, mode.value) in NOT_YET_TRUTHFUL else ALL_CHECKS
    operation = api_schema[path][method]
    headers = {"X-API-Key": live_service.key}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=checks)

    run()


STATEFUL_SCENARIOS = 15


def test_stateful_sequences(api_schema: schemathesis.BaseSchema, live_service: LiveService) -> None:
    """Sequences that follow the links between operations (an id one answer gives, used by the
    next request: a glossary created, read, exported, changed, deleted, then gone), with every
    check, so that what is created can be used and what is deleted stays gone."""
    base = api_schema.as_state_machine()
    key = live_service.key
    exempt = {label for label, _ in NOT_YET_TRUTHFUL}

    class Sequences(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": {"X-API-Key": key}}

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            label = f"{case.method.upper()} {case.operation.path}"
            case.validate_response(
                response,
                checks=ANSWER_CHECKS if label in exempt else ALL_CHECKS,
                headers={"X-API-Key": key},
                transport_kwargs=kwargs or None,
                recorder=getattr(self, "recorder", None),
            )

    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
