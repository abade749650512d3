"""Both stacks keep the maintenance and cost promises: Sunday-night patching, standard support,
node costs that reach the budget, a monthly and a yearly budget."""

from __future__ import annotations

import pytest

from stacks.config import load_stack_config
from stacks.regions import GraphIndex


@pytest.fixture(params=["staging", "production"])
def stack(request, staging, production) -> tuple[str, GraphIndex]:
    return request.param, {"staging": staging, "production": production}[request.param]


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _weekly(window: str) -> tuple[str, int, int]:
    start, end = window.split("-")
    day, _, start_time = start.partition(":")
    end_day, _, end_time = end.partition(":")
    assert day == end_day, window
    return day, _minutes(start_time), _minutes(end_time)


def _daily(window: str) -> tuple[int, int]:
    start, end = window.split("-")
    return _minutes(start), _minutes(end)


def test_data_stores_patch_inside_sunday_0200_0400_and_not_together(stack):
    _, graph = stack
    windows = []
    for typ, daily_key in (
        ("aws:rds/instance:Instance", "backupWindow"),
        ("aws:elasticache/replicationGroup:ReplicationGroup", "snapshotWindow"),
    ):
        for r in graph.of_type(typ):
            day, start, end = _weekly(r.inputs["maintenanceWindow"])
            assert day == "sun" and 120 <= start < end <= 240, r.name
            # RDS refuses a backup window that overlaps maintenance; a snapshot during
            # patching would be slow or skipped.
            b_start, b_end = _daily(r.inputs[daily_key])
            assert b_end <= start or b_start >= end, r.name
            windows.append((typ, start, end))
    db = {(s, e) for t, s, e in windows if "rds" in t}
    cache = {(s, e) for t, s, e in windows if "elasticache" in t}
    assert all(
        d_end <= c_start or c_end <= d_start for d_start, d_end in db for c_start, c_end in cache
    )


def test_clusters_declare_standard_support(stack):
    _, graph = stack
    for cluster in graph.of_type("aws:eks/cluster:Cluster"):
        assert cluster.inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_node_instances_volumes_and_enis_carry_cost_tags(stack):
    name, graph = stack
    templates = graph.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert templates
    for lt in templates:
        specs = {s["resourceType"]: s["tags"] for s in lt.inputs["tagSpecifications"]}
        assert set(specs) == {"instance", "volume", "network-interface"}
        for tags in specs.values():
            # What the budget filters on (user:Environment$<env>) reaches every node.
            assert tags["Environment"] == name
            assert tags["Project"] == "universal-translator-pro"
            assert tags["Component"] == "eks-nodes"


def test_a_monthly_and_a_yearly_budget(stack):
    name, graph = stack
    cfg = load_stack_config(name)
    budgets = {b.inputs["timeUnit"]: b.inputs for b in graph.of_type("aws:budgets/budget:Budget")}
    assert set(budgets) == {"MONTHLY", "ANNUALLY"}
    assert float(budgets["MONTHLY"]["limitAmount"]) == cfg.budget.monthly_usd
    assert float(budgets["ANNUALLY"]["limitAmount"]) == 12 * cfg.budget.monthly_usd
    for b in budgets.values():
        assert b["costFilters"] == [{"name": "TagKeyValue", "values": [f"user:Environment${name}"]}]
