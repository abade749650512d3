"""The failover budget in docs/operations.md: every step of the plan has an expected duration
with its source, and together they fit the RTO of 15 minutes."""

from __future__ import annotations

from pathlib import Path

from infra.dns import FAILURE_THRESHOLD, RECORD_TTL_SECONDS, REQUEST_INTERVAL_SECONDS
from stacks.config import load_stack_config
from stacks.dr.names import DrNames
from stacks.dr.steps import failover_steps

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
RTO_MINUTES = 15.0


def _budget() -> dict[str, tuple[float, str]]:
    """The table under the `dr-budget` anchor: step -> (minutes, source)."""
    text = RUNBOOK.read_text()
    section = text[text.index('<a id="dr-budget"></a>') :]
    rows: dict[str, tuple[float, str]] = {}
    in_table = False
    for line in section.splitlines():
        if line.startswith("| step | minutes | source |"):
            in_table = True
            continue
        if in_table and line.startswith("|---"):
            continue
        if in_table and not line.startswith("|"):
            break
        if in_table:
            step, minutes, source = (cell.strip() for cell in line.strip("|").split("|", 2))
            rows[step.strip("`")] = (float(minutes), source)
    return rows


def test_budget_fits_the_rto() -> None:
    budget = _budget()
    assert sum(minutes for minutes, _ in budget.values()) <= RTO_MINUTES
    assert all(source for _, source in budget.values())


def test_budget_lists_every_failover_step() -> None:
    names = DrNames.from_config(load_stack_config("production"))
    steps = {s.name for s in failover_steps(names.primary, names.dr)}
    assert set(_budget()) == steps | {"detect", "decide"}


def test_budget_holds_the_configured_timings() -> None:
    budget = _budget()
    # The primary check fails after FAILURE_THRESHOLD intervals; the alarm needs 2 x 60 s.
    assert budget["detect"][0] * 60 >= REQUEST_INTERVAL_SECONDS * FAILURE_THRESHOLD + 120
    # The record change reaches every Route 53 name server within 60 s; resolvers keep the TTL.
    assert budget["dns-to-us-west-2"][0] * 60 >= 60 + RECORD_TTL_SECONDS
