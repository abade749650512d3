"""Both stacks scale: metrics-server and the Cluster Autoscaler per cluster, a spot pool, and
the service kept on on-demand capacity."""

from __future__ import annotations

import pytest

from infra.eks import SPOT_TAINT_KEY
from stacks.regions import GraphIndex

EAST, WEST = "us-east-1", "us-west-2"
POD_OWNERS = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:batch/v1:Job",
)


@pytest.fixture(params=["staging", "production"])
def graph(request, staging, production) -> GraphIndex:
    return {"staging": staging, "production": production}[request.param]


def _pod_spec(r):
    spec = r.inputs["spec"]
    if "jobTemplate" in spec:
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def test_each_cluster_runs_metrics_server_and_the_cluster_autoscaler(graph):
    releases = graph.of_type("kubernetes:helm.sh/v3:Release")
    for chart in ("metrics-server", "cluster-autoscaler"):
        mine = [r for r in releases if r.inputs["chart"] == chart]
        assert sorted(graph.effective_region(r) for r in mine) == [EAST, WEST], chart


def test_each_cluster_has_an_on_demand_and_a_spot_pool(graph):
    pools = sorted(
        (graph.effective_region(g), g.inputs["capacityType"])
        for g in graph.of_type("aws:eks/nodeGroup:NodeGroup")
    )
    assert pools == [(EAST, "ON_DEMAND"), (EAST, "SPOT"), (WEST, "ON_DEMAND"), (WEST, "SPOT")]


def test_service_pods_stay_on_on_demand_capacity(graph):
    owners = [
        r
        for t in POD_OWNERS
        for r in graph.of_type(t)
        if r.inputs["metadata"].get("namespace") == "utp"
    ]
    assert owners
    for r in owners:
        spec = _pod_spec(r)
        assert spec["nodeSelector"] == {"eks.amazonaws.com/capacityType": "ON_DEMAND"}, r.name
        assert not any(t.get("key") == SPOT_TAINT_KEY for t in spec.get("tolerations", []))
