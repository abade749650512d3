"""Custom resource definitions that several components' resources need before they exist."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra._k8s import release


class PrometheusOperatorCrds(pulumi.ComponentResource):
    """Installs the Prometheus Operator CRDs (ServiceMonitor, PrometheusRule, ...) as the pinned
    `prometheus-operator-crds` release in kube-system. Everything that creates one of those
    resources, or enables them in a chart, depends on this component; kube-prometheus-stack
    runs with its own CRD copy turned off so one release owns them."""

    release: k8s.helm.v3.Release

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("utp:crds:PrometheusOperatorCrds", name, None, opts)
        self.release = release(
            f"{name}-release", "prometheus-operator-crds", "kube-system", {}, self
        )
        self.register_outputs({})
