"""Fixtures for component tests: run a small program under fresh recording mocks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stacks.offline import run_under_mocks
from stacks.regions import GraphIndex


@pytest.fixture
def build() -> Callable[[Callable[[], object]], GraphIndex]:
    """Run `program` under mocks (set inside this call, on a private event loop)."""

    def run(program: Callable[[], object]) -> GraphIndex:
        return GraphIndex(run_under_mocks(program, stack="unit"))

    return run
