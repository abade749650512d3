"""Kubernetes building blocks shared by the in-cluster components."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

# Pinned Helm charts: (chart, version, repository). Upgrades are deliberate edits here.
CHARTS: dict[str, tuple[str, str, str]] = {
    "traefik": ("traefik", "37.1.2", "https://traefik.github.io/charts"),
    "cert-manager": ("cert-manager", "v1.18.2", "https://charts.jetstack.io"),
    "kube-prometheus-stack": (
        "kube-prometheus-stack",
        "77.5.0",
        "https://prometheus-community.github.io/helm-charts",
    ),
    # The Prometheus Operator CRDs on their own, first in each cluster: Traefik, cert-manager,
    # External Secrets, the exporters and the service all create ServiceMonitors, and a chart
    # cannot install a resource whose CRD does not exist yet. 23.0.0 carries operator v0.85.0,
    # the operator kube-prometheus-stack 77.5.0 runs (its own CRD copy is turned off).
    "prometheus-operator-crds": (
        "prometheus-operator-crds",
        "23.0.0",
        "https://prometheus-community.github.io/helm-charts",
    ),
    "loki": ("loki", "6.40.0", "https://grafana.github.io/helm-charts"),
    "promtail": ("promtail", "6.17.0", "https://grafana.github.io/helm-charts"),
    # Exporters behind the alert rules (docs/metrics.md); each pins its exporter image through
    # the chart's appVersion: postgres_exporter v0.20.1, redis_exporter v1.89.0,
    # cloudwatch_exporter 0.16.0.
    "prometheus-postgres-exporter": (
        "prometheus-postgres-exporter",
        "8.2.0",
        "https://prometheus-community.github.io/helm-charts",
    ),
    "prometheus-redis-exporter": (
        "prometheus-redis-exporter",
        "6.29.0",
        "https://prometheus-community.github.io/helm-charts",
    ),
    "prometheus-cloudwatch-exporter": (
        "prometheus-cloudwatch-exporter",
        "0.28.1",
        "https://prometheus-community.github.io/helm-charts",
    ),
    "external-secrets": ("external-secrets", "0.20.1", "https://charts.external-secrets.io"),
    # Autoscaling (infra/autoscaling.py): metrics-server 0.8.1; the Cluster Autoscaler chart
    # (its image tag follows the cluster's Kubernetes minor: infra/autoscaling.py).
    "metrics-server": (
        "metrics-server",
        "3.13.1",
        "https://kubernetes-sigs.github.io/metrics-server/",
    ),
    "cluster-autoscaler": (
        "cluster-autoscaler",
        "9.51.0",
        "https://kubernetes.github.io/autoscaler",
    ),
}


def namespace(
    name: str, resource_name: str, parent: pulumi.Resource, enforce: str = "restricted"
) -> k8s.core.v1.Namespace:
    """A namespace with Pod Security Admission enforcing `enforce` (restricted by default)."""
    return k8s.core.v1.Namespace(
        resource_name,
        metadata={
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": enforce,
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )


def release(
    resource_name: str,
    chart_key: str,
    ns: k8s.core.v1.Namespace | str,
    values: dict[str, object],
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
) -> k8s.helm.v3.Release:
    """A pinned Helm release that waits for readiness and rolls back on a failed upgrade."""
    chart, version, repo = CHARTS[chart_key]
    return k8s.helm.v3.Release(
        resource_name,
        name=chart_key,
        chart=chart,
        version=version,
        repository_opts={"repo": repo},
        namespace=ns if isinstance(ns, str) else ns.metadata.name,
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )


RESTRICTED_CONTAINER: dict[str, object] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
