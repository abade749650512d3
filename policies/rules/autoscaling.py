"""Autoscaling that works: HPAs have a metrics source, resizable node groups an autoscaler."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.helpers import Res, as_int, as_str, of_type, stack_rule, types

HPA = types(
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "kubernetes:autoscaling/v1:HorizontalPodAutoscaler",
)
HELM_RELEASE = types("kubernetes:helm.sh/v3:Release")
NODE_GROUP = types("aws:eks/nodeGroup:NodeGroup")
CLUSTER = types("aws:eks/cluster:Cluster")

StackFinding = Iterator[tuple[str, str | None]]


def _charts(resources: list[Res], chart: str) -> list[Res]:
    return [r for r in of_type(resources, HELM_RELEASE) if as_str(r.get("chart")) == chart]


def _hpa_metrics(resources: list[Res], _config: Mapping[str, Any]) -> StackFinding:
    # The HPA reads CPU/memory from the metrics API; without metrics-server in the same
    # cluster it reports <unknown> and never scales.
    served = {r.provider_urn for r in _charts(resources, "metrics-server")}
    for hpa in of_type(resources, HPA):
        if hpa.provider_urn not in served:
            yield (
                f"HorizontalPodAutoscaler '{hpa.name}' has no metrics-server in its cluster: "
                "it can never scale.",
                hpa.urn,
            )


def _node_autoscaler(resources: list[Res], _config: Mapping[str, Any]) -> StackFinding:
    resizable = [
        g
        for g in of_type(resources, NODE_GROUP)
        if (as_int(g.get("scalingConfig", "maxSize")) or 0)
        > (as_int(g.get("scalingConfig", "minSize")) or 0)
    ]
    clusters = of_type(resources, CLUSTER)
    autoscalers = _charts(resources, "cluster-autoscaler")
    if resizable and len(autoscalers) < len(clusters):
        yield (
            f"{len(resizable)} node group(s) may grow but only {len(autoscalers)} of "
            f"{len(clusters)} clusters run a node autoscaler: pending pods would wait forever.",
            resizable[0].urn,
        )


RULES = [
    stack_rule(
        name="k8s-hpa-metrics-server",
        description="Every HorizontalPodAutoscaler's cluster runs metrics-server.",
        area="autoscaling",
        check=_hpa_metrics,
        fix="install the metrics-server chart in the cluster (infra/autoscaling.py).",
    ),
    stack_rule(
        name="aws-eks-node-autoscaler",
        description="Each EKS cluster with resizable node groups runs a node autoscaler.",
        area="autoscaling",
        check=_node_autoscaler,
        fix="install the cluster-autoscaler chart with an IRSA role (infra/autoscaling.py).",
    ),
]
