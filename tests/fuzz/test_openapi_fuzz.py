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
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from tests.fuzz import constraints
from tests.fuzz.conftest import TODAY, LiveService, operations

EXAMPLES = 10
load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())
# A valid request may still be refused for what the server holds, not for what it says:
# schemathesis's defaults (credentials, not found, a conflict, rate limits) and a budget the
# fuzzing itself exhausted (402, documented on the translation routes).
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "402", "403", "404", "409", "429", "5xx"]
            }
        }
    }
)


@pytest.fixture(scope="session")
def api_schema(live_service: LiveService) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{live_service.url}/schema/openapi.json", config=CONFIG)
    # The few rules JSON Schema cannot state, each dropping only the cases that break it.
    constraints.install(
        schema, today=TODAY.date(), limits=live_service.limits, key=live_service.key
    )
    constraints.register_glossary_files()
    return schema


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    served = {result.ok().label for result in api_schema.get_all_operations()}
    assert served == {label for label, _ in operations()}
    # Every operation runs every check: no operation is exempt from any.
    assert {label for label, _ in operations()} == {c.values[0] for c in CASES}


# Negative cases break the schema on purpose; an operation without inputs has nothing to break.
# An operation without inputs has one request to make: more examples would repeat it.
CASES = [
    pytest.param(label, mode, EXAMPLES if has_input else 1, id=f"{label}-{mode.value}")
    for label, has_input in operations()
    for mode in GenerationMode
    if has_input or mode is GenerationMode.POSITIVE
]


@pytest.mark.parametrize(("label", "mode", "examples"), CASES)
def test_operation_conforms(
    label: str,
    mode: GenerationMode,
    examples: int,
    api_schema: schemathesis.BaseSchema,
    live_service: LiveService,
) -> None:
    """Valid requests (positive) and requests that break the schema (negative) alike."""
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    headers = {"X-API-Key": live_service.key_for(path)}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=ALL_CHECKS)

    run()


STATEFUL_SCENARIOS = 10


def test_stateful_sequences(api_schema: schemathesis.BaseSchema, live_service: LiveService) -> None:
    """Sequences that follow the links between operations (an id one answer gives, used by the
    next request: a glossary created, read, exported, changed, deleted, then gone), with every
    check, so that what is created can be used and what is deleted stays gone."""
    base = api_schema.as_state_machine()

    class Sequences(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": {"X-API-Key": live_service.key_for(case.operation.path)}}

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                checks=ALL_CHECKS,
                headers={"X-API-Key": live_service.key_for(case.operation.path)},
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
