"""External Secrets Operator: syncs Secrets Manager values into Kubernetes Secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra._k8s import RESTRICTED_CONTAINER, namespace, release


@dataclass(frozen=True, kw_only=True)
class SecretsOperatorArgs:
    replicas: int = 2


class SecretsOperator(pulumi.ComponentResource):
    """Creates the `external-secrets` namespace and the pinned External Secrets Operator release
    (CRDs included). It holds no AWS permissions itself: each app namespace's SecretStore
    authenticates with that namespace's own IRSA service account."""

    release: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: SecretsOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("utp:secrets:SecretsOperator", name, None, opts)
        ns = namespace("external-secrets", f"{name}-ns", self)
        self.release = release(
            f"{name}-release",
            "external-secrets",
            ns,
            {
                "installCRDs": True,
                "replicaCount": args.replicas,
                "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
                "securityContext": RESTRICTED_CONTAINER,
                "webhook": {"securityContext": RESTRICTED_CONTAINER},
                "certController": {"securityContext": RESTRICTED_CONTAINER},
                "serviceMonitor": {"enabled": True},
            },
            self,
        )
        self.register_outputs({})
