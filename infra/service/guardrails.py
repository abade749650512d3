"""The namespace's ResourceQuota and LimitRange."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from infra.service.scope import Scope


def create_guardrails(scope: Scope) -> None:
    ns, a = scope.args.namespace, scope.args
    k8s.core.v1.ResourceQuota(
        f"{scope.name}-quota",
        metadata={"name": "utp-quota", "namespace": ns},
        spec={
            "hard": {
                "requests.cpu": "16",
                "requests.memory": "32Gi",
                "limits.cpu": "32",
                "limits.memory": "64Gi",
                "pods": str(a.max_replicas * 2 + 10),
                "services.loadbalancers": "0",
                "services.nodeports": "0",
            }
        },
        opts=scope.child,
    )
    k8s.core.v1.LimitRange(
        f"{scope.name}-limits",
        metadata={"name": "utp-limits", "namespace": ns},
        spec={
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": "500m", "memory": "512Mi"},
                    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                    "max": {"cpu": "4", "memory": "8Gi"},
                }
            ]
        },
        opts=scope.child,
    )
