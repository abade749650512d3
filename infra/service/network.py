"""The namespace's NetworkPolicies: default deny, then each flow the pods need."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi_kubernetes as k8s

from infra.service.env import PORT
from infra.service.jobs import BACKUP_METRICS_PORT
from infra.service.scope import Scope


def create_network_policies(scope: Scope) -> None:
    ns, a = scope.args.namespace, scope.args

    def policy(suffix: str, spec: dict[str, Any]) -> None:
        k8s.networking.v1.NetworkPolicy(
            f"{scope.name}-netpol-{suffix}",
            metadata={"name": suffix, "namespace": ns},
            spec=spec,
            opts=scope.child,
        )

    def from_ns(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    policy(
        "allow-ingress-traefik",
        {
            "podSelector": {"matchLabels": scope.labels},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [from_ns("traefik"), from_ns("monitoring")],
                    "ports": [{"protocol": "TCP", "port": PORT}],
                }
            ],
        },
    )
    policy(
        "allow-egress-dns",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            **from_ns("kube-system"),
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    )
    policy(
        "allow-egress-data",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"ipBlock": {"cidr": a.vpc_cidr}}],
                    "ports": [
                        {"protocol": "TCP", "port": 5432},
                        {"protocol": "TCP", "port": 6379},
                    ],
                }
            ],
        },
    )
    policy(
        "allow-egress-https",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    # Provider APIs, S3 and STS; the metadata endpoint stays unreachable.
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
                    "ports": [{"protocol": "TCP", "port": 443}],
                }
            ],
        },
    )


def allow_backup_metrics_traffic(scope: Scope, labels: Mapping[str, str]) -> None:
    """Prometheus in to the exporter; the exporter out to, and into, the API pods."""
    name, ns = scope.name, scope.args.namespace
    monitoring = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    }
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol-backup-metrics",
        metadata={"name": "allow-backup-metrics", "namespace": ns},
        spec={
            "podSelector": {"matchLabels": dict(labels)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [monitoring],
                    "ports": [{"protocol": "TCP", "port": BACKUP_METRICS_PORT}],
                }
            ],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": scope.labels}}],
                    "ports": [{"protocol": "TCP", "port": PORT}],
                }
            ],
        },
        opts=scope.child,
    )
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol-health-check",
        metadata={"name": "allow-ingress-health-check", "namespace": ns},
        spec={
            "podSelector": {"matchLabels": scope.labels},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": dict(labels)}}],
                    "ports": [{"protocol": "TCP", "port": PORT}],
                }
            ],
        },
        opts=scope.child,
    )
