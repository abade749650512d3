"""The real staging and production programs, built under mocks, checked by the pack."""

from __future__ import annotations

from dataclasses import replace

import pytest

from policies.offline import check
from policies.rules import ALL
from stacks.graph import RecordedResource
from stacks.offline import build_graph

STACKS = ("staging", "production")


@pytest.fixture(scope="module")
def graphs() -> dict[str, list[RecordedResource]]:
    return {stack: build_graph(stack) for stack in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_real_stack_has_no_mandatory_violation(
    stack: str, graphs: dict[str, list[RecordedResource]]
) -> None:
    report = check(graphs[stack], stack)
    print(report.to_text())  # the advisory list, visible with `pytest -s` / -rP
    assert report.rules_loaded == len(ALL) >= 40
    assert report.mandatory == [], report.to_text()
    assert report.exit_code == 0


@pytest.mark.parametrize("stack", STACKS)
def test_rules_see_the_real_graph(stack: str, graphs: dict[str, list[RecordedResource]]) -> None:
    """Turning storage encryption off on the real replica fails the check."""
    replicas = [
        r
        for r in graphs[stack]
        if r.type == "aws:rds/instance:Instance" and r.inputs.get("replicateSourceDb")
    ]
    assert replicas, "the program builds a cross-region replica"
    target = replicas[0]
    mutated = [
        replace(r, inputs={**r.inputs, "storageEncrypted": False}) if r is target else r
        for r in graphs[stack]
    ]
    report = check(mutated, stack)
    assert report.exit_code == 1
    assert {(v.rule, v.urn) for v in report.mandatory} == {
        ("aws-rds-storage-encrypted", target.urn)
    }
