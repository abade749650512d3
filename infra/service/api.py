"""The API Deployment and what exposes, scrapes, scales and protects it."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.dns import HEALTH_PATH
from infra.edge import METRICS_PATH
from infra.ingress import DENY_ALL_MIDDLEWARE, RATE_LIMIT_MIDDLEWARE
from infra.service.env import PORT
from infra.service.pods import container, pod_spec
from infra.service.scope import Scope


def create_service_account(scope: Scope) -> k8s.core.v1.ServiceAccount:
    return k8s.core.v1.ServiceAccount(
        f"{scope.name}-sa",
        metadata={"name": "utp", "namespace": scope.args.namespace},
        automount_service_account_token=False,
        opts=scope.child,
    )


def create_deployment(scope: Scope, after: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
    a = scope.args
    api = container(scope, "api")
    api["ports"] = [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
    probe = {"httpGet": {"port": "http"}, "periodSeconds": 10, "timeoutSeconds": 3}
    api["livenessProbe"] = {
        **probe,
        "httpGet": {"path": "/health/live", "port": "http"},
        "failureThreshold": 3,
    }
    api["readinessProbe"] = {
        **probe,
        "httpGet": {"path": "/health/ready", "port": "http"},
        "failureThreshold": 2,
    }
    api["startupProbe"] = {
        **probe,
        "httpGet": {"path": "/health/live", "port": "http"},
        "failureThreshold": 30,
    }
    return k8s.apps.v1.Deployment(
        f"{scope.name}-deployment",
        metadata={"name": "utp", "namespace": a.namespace, "labels": scope.labels},
        spec={
            # No replicas field: the HPA owns the count (min_replicas: 2 staging, 3 production).
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": scope.labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
            },
            "template": {
                "metadata": {"labels": scope.labels},
                "spec": pod_spec(
                    [api],
                    "utp",
                    terminationGracePeriodSeconds=30,
                    topologySpreadConstraints=[
                        {
                            "maxSkew": 1,
                            "topologyKey": key,
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": scope.labels},
                        }
                        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                    ],
                ),
            },
        },
        opts=pulumi.ResourceOptions(parent=scope.parent, depends_on=[scope.ns, *after]),
    )


def create_exposure(scope: Scope, deployment: k8s.apps.v1.Deployment) -> None:
    a, name, ns, labels = scope.args, scope.name, scope.args.namespace, scope.labels
    k8s.core.v1.Service(
        f"{name}-svc",
        metadata={"name": "utp", "namespace": ns, "labels": labels},
        spec={
            "type": "ClusterIP",
            "selector": labels,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
        opts=scope.child,
    )
    k8s.apiextensions.CustomResource(
        f"{name}-servicemonitor",
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata={"name": "utp", "namespace": ns},
        spec={
            "selector": {"matchLabels": labels},
            "endpoints": [{"port": "http", "path": METRICS_PATH, "interval": "30s"}],
        },
        opts=scope.child,
    )
    hosts = [a.hostname, a.regional_hostname]

    def ingress(suffix: str, path: str, path_type: str, middlewares: str | None) -> None:
        annotations = {
            "cert-manager.io/cluster-issuer": a.cluster_issuer,
            "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
            "traefik.ingress.kubernetes.io/router.tls": "true",
        }
        if middlewares:
            annotations["traefik.ingress.kubernetes.io/router.middlewares"] = middlewares
        k8s.networking.v1.Ingress(
            f"{name}-ingress{suffix}",
            metadata={"name": f"utp{suffix}", "namespace": ns, "annotations": annotations},
            spec={
                "ingressClassName": "traefik",
                "tls": [{"hosts": hosts, "secretName": "utp-tls"}],
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": path,
                                    "pathType": path_type,
                                    "backend": {
                                        "service": {"name": "utp", "port": {"name": "http"}}
                                    },
                                }
                            ]
                        },
                    }
                    for host in hosts
                ],
            },
            opts=scope.child,
        )

    # Everything is rate-limited per client IP except the health check: Route 53's checkers
    # share a handful of addresses across every check, so counting them could fail over a
    # healthy region. Traefik prefers the longer rule, so the exact health path wins, and so
    # does the metrics prefix, refused with 403: Prometheus scrapes the pods directly (the
    # ServiceMonitor above), never through the ingress. The WAF blocks it first (infra/edge.py).
    ingress("", "/", "Prefix", RATE_LIMIT_MIDDLEWARE)
    ingress("-health", HEALTH_PATH, "Exact", None)
    ingress("-metrics", METRICS_PATH, "Prefix", DENY_ALL_MIDDLEWARE)
    k8s.autoscaling.v2.HorizontalPodAutoscaler(
        f"{name}-hpa",
        metadata={"name": "utp", "namespace": ns},
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "utp"},
            "minReplicas": a.min_replicas,
            "maxReplicas": a.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": resource,
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
                for resource, target in (("cpu", 70), ("memory", 80))
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
        opts=pulumi.ResourceOptions(parent=scope.parent, depends_on=[deployment]),
    )
    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-pdb",
        metadata={"name": "utp", "namespace": ns},
        # minAvailable, never maxUnavailable 0: node drains must stay possible. One replica below
        # the HPA's floor may be evicted at a time (production: 2 of 3 keep serving).
        spec={"minAvailable": max(1, a.min_replicas - 1), "selector": {"matchLabels": labels}},
        opts=scope.child,
    )
