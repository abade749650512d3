"""Schemathesis against the service's own OpenAPI document: every operation, a valid API key,
a bounded number of examples. No answer may be a 5xx, and every answer must match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import LiveService, operations

EXAMPLES = 40
# No 5xx, and every answer as documented: status, media type, headers and body.
CHECKS = [
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
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
