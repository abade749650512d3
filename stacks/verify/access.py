"""Kubernetes resources need a cluster `pulumi up` may use: an admin access entry first.

With API authentication and no creator bootstrap, EKS answers Unauthorized until an access
entry with a policy exists for the caller; every resource created through a cluster's
provider must wait for one (the provider waiting is enough: its resources wait for it).
"""

from __future__ import annotations

from collections.abc import Sequence

from stacks.graph import RecordedResource
from stacks.regions import GraphIndex
from stacks.verify.crds import Ordering

ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ADMIN_POLICY = "cluster-access-policy/AmazonEKSClusterAdminPolicy"


def access_problems(graph: Sequence[RecordedResource]) -> list[str]:
    index = GraphIndex(graph)
    ordering = Ordering(index)
    admins = {
        r.urn
        for r in index.of_type(ASSOCIATION)
        if str(r.inputs.get("policyArn", "")).endswith(ADMIN_POLICY)
    }
    problems = []
    for provider in index.of_type("pulumi:providers:kubernetes"):
        if not admins & ordering.waits_for(provider):
            problems.append(
                f"access: {provider.name}: the Kubernetes provider does not wait for an"
                " AmazonEKSClusterAdminPolicy access entry; its resources would be Unauthorized"
            )
    return problems
