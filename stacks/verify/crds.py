"""Custom resources, and charts that render them, must wait for what installs their CRDs.

The API server refuses a custom resource whose CRD does not exist yet, and Helm fails a whole
release that renders one; mocks accept both. Ordering comes from the recorded `dependsOn`
URNs: a resource waits for its own dependencies and, because a child is registered only once
its parent is, for its ancestors' dependencies too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stacks.graph import RecordedResource
from stacks.regions import GraphIndex

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

# API group -> the chart whose release installs its CRDs.
CRD_CHARTS: dict[str, str] = {
    "monitoring.coreos.com": "prometheus-operator-crds",
    "cert-manager.io": "cert-manager",
    "acme.cert-manager.io": "cert-manager",
    "external-secrets.io": "external-secrets",
    "generators.external-secrets.io": "external-secrets",
    "traefik.io": "traefik",
}

# Charts that render custom resources of another chart's CRDs: (values path, chart default)
# that turns them on, and the API group. `None` as path: the chart always renders them.
# Defaults are the pinned charts' values.yaml (infra/_k8s.py CHARTS).
CHART_CUSTOM_RESOURCES: dict[str, tuple[tuple[str | None, bool, str], ...]] = {
    "traefik": (("metrics.prometheus.serviceMonitor.enabled", False, "monitoring.coreos.com"),),
    "cert-manager": (("prometheus.servicemonitor.enabled", False, "monitoring.coreos.com"),),
    "external-secrets": (("serviceMonitor.enabled", False, "monitoring.coreos.com"),),
    # Prometheus, Alertmanager, its ServiceMonitors and rules; its own CRD copy is turned off.
    "kube-prometheus-stack": ((None, True, "monitoring.coreos.com"),),
    "prometheus-postgres-exporter": (("serviceMonitor.enabled", False, "monitoring.coreos.com"),),
    "prometheus-redis-exporter": (("serviceMonitor.enabled", False, "monitoring.coreos.com"),),
    "prometheus-cloudwatch-exporter": (("serviceMonitor.enabled", False, "monitoring.coreos.com"),),
    "loki": (("monitoring.serviceMonitor.enabled", False, "monitoring.coreos.com"),),
    "promtail": (("serviceMonitor.enabled", False, "monitoring.coreos.com"),),
}


def api_group(resource_type: str) -> str | None:
    """`kubernetes:monitoring.coreos.com/v1:ServiceMonitor` -> `monitoring.coreos.com`."""
    if not resource_type.startswith("kubernetes:"):
        return None
    group = resource_type.split(":", 2)[1].split("/", 1)[0]
    return group


def is_builtin_group(group: str) -> bool:
    """Groups the API server serves itself (and the provider's own `helm.sh`)."""
    return "." not in group or group.endswith(".k8s.io") or group in ("helm.sh",)


def _value(values: Any, path: str, default: bool) -> bool:
    node = values
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return bool(node)


class Ordering:
    """What each resource waits for, transitively (its and its ancestors' dependsOn)."""

    def __init__(self, index: GraphIndex) -> None:
        self.index = index
        self._memo: dict[str, frozenset[str]] = {}

    def waits_for(self, r: RecordedResource) -> frozenset[str]:
        if r.urn in self._memo:
            return self._memo[r.urn]
        direct = set(r.depends_on)
        for ancestor in self.index.ancestors(r):
            direct |= set(ancestor.depends_on)
        result = set(direct)
        for urn in direct:
            dep = self.index.by_urn.get(urn)
            if dep is not None:
                result |= self.waits_for(dep)
        self._memo[r.urn] = frozenset(result)
        return self._memo[r.urn]


def _needed_groups(r: RecordedResource) -> list[str]:
    if r.type == HELM_RELEASE:
        chart = str(r.inputs.get("chart", ""))
        values = r.inputs.get("values")
        return [
            group
            for path, default, group in CHART_CUSTOM_RESOURCES.get(chart, ())
            # Values masked as a secret cannot be read: assume the resources are on.
            if path is None or not isinstance(values, dict) or _value(values, path, default)
        ]
    group = api_group(r.type)
    if group is None or is_builtin_group(group):
        return []
    return [group]


def crd_order_problems(graph: Sequence[RecordedResource]) -> list[str]:
    index = GraphIndex(graph)
    ordering = Ordering(index)
    installers: dict[tuple[str | None, str], list[RecordedResource]] = {}
    for r in index.of_type(HELM_RELEASE):
        installers.setdefault((r.provider_urn, str(r.inputs.get("chart", ""))), []).append(r)
    problems: list[str] = []
    for r in graph:
        for group in _needed_groups(r):
            chart = CRD_CHARTS.get(group)
            if chart is None:
                problems.append(
                    f"crds: {r.name} ({r.type}): no known installer for CRD group {group}"
                )
                continue
            if r.type == HELM_RELEASE and r.inputs.get("chart") == chart:
                continue  # the chart installs its own CRDs before its templates
            candidates = installers.get((r.provider_urn, chart), [])
            if not candidates:
                problems.append(
                    f"crds: {r.name} ({r.type}) needs {group} CRDs, but nothing in its cluster"
                    f" installs them (chart {chart})"
                )
            elif not any(c.urn in ordering.waits_for(r) for c in candidates):
                problems.append(
                    f"crds: {r.name} ({r.type}) does not wait for {candidates[0].name}, which"
                    f" installs its {group} CRDs (add depends_on on it or on a parent)"
                )
    return problems
