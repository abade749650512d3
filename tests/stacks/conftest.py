"""Both stacks' full resource graphs, built once per session under fresh mocks."""

from __future__ import annotations

import pytest

from stacks.offline import build_graph
from stacks.regions import GraphIndex


@pytest.fixture(scope="session")
def staging() -> GraphIndex:
    return GraphIndex(build_graph("staging"))


@pytest.fixture(scope="session")
def production() -> GraphIndex:
    return GraphIndex(build_graph("production"))
