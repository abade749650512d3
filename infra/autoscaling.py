"""Pod and node autoscaling for one cluster: metrics-server and the Cluster Autoscaler.

Why the Cluster Autoscaler and not Karpenter: the nodes are EKS managed node groups on a
hardened launch template, which the Cluster Autoscaler scales as they are (it discovers their
Auto Scaling groups by the tags EKS puts on them and reads their labels and taints with
eks:DescribeNodegroup, so a pool can scale from zero). Karpenter would replace the node groups
with its own NodePool/EC2NodeClass resources (CRDs), an SQS interruption queue, EventBridge
rules and a second node role: more moving parts for two small pools. Spot interruptions are
handled by the managed node group (capacity rebalancing drains a node before it is reclaimed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra._k8s import RESTRICTED_CONTAINER, release
from infra._util import irsa_trust_policy

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"

# The Cluster Autoscaler's minor version must match the cluster's (its scheduler simulation is
# built from that Kubernetes release); the newest patch of each, from kubernetes/autoscaler tags.
AUTOSCALER_IMAGE_TAGS: dict[str, str] = {
    "1.35": "v1.35.2",
}


@dataclass(frozen=True, kw_only=True)
class AutoscalingArgs:
    cluster_name: pulumi.Input[str]
    region: str
    kubernetes_version: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]


class Autoscaling(pulumi.ComponentResource):
    """Creates, in kube-system: metrics-server (2 replicas and a PDB: the HorizontalPodAutoscaler
    reads CPU from it and is inert without it) and the Cluster Autoscaler (auto-discovers the
    cluster's managed node groups; IRSA role that may resize only Auto Scaling groups tagged
    for this cluster)."""

    role: aws.iam.Role

    def __init__(
        self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("utp:autoscaling:Autoscaling", name, None, opts)
        if args.kubernetes_version not in AUTOSCALER_IMAGE_TAGS:
            raise ValueError(
                f"no Cluster Autoscaler release pinned for Kubernetes {args.kubernetes_version}"
            )
        child = pulumi.ResourceOptions(parent=self)
        metrics = release(
            f"{name}-metrics-server",
            "metrics-server",
            NAMESPACE,
            {"replicas": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1}},
            self,
        )
        self.role = aws.iam.Role(
            f"{name}-cluster-autoscaler",
            assume_role_policy=irsa_trust_policy(
                args.oidc_provider_arn, args.oidc_issuer, NAMESPACE, SERVICE_ACCOUNT
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-cluster-autoscaler",
            role=self.role.id,
            policy=pulumi.Output.from_input(args.cluster_name).apply(_autoscaler_policy),
            opts=child,
        )
        release(
            f"{name}-cluster-autoscaler",
            "cluster-autoscaler",
            NAMESPACE,
            {
                "autoDiscovery": {"clusterName": args.cluster_name},
                "awsRegion": args.region,
                "image": {"tag": AUTOSCALER_IMAGE_TAGS[args.kubernetes_version]},
                "rbac": {
                    "serviceAccount": {
                        "name": SERVICE_ACCOUNT,
                        "annotations": {"eks.amazonaws.com/role-arn": self.role.arn},
                    }
                },
                "replicaCount": 1,  # leader election: a second replica would only stand by
                "extraArgs": {
                    # The default and spot pools span the same AZs; keep each pool balanced.
                    "balance-similar-node-groups": True,
                    "expander": "least-waste",
                    # gp3 PVCs are EBS volumes, not node-local storage: such nodes may go.
                    "skip-nodes-with-local-storage": False,
                },
                "containerSecurityContext": RESTRICTED_CONTAINER,
            },
            self,
            depends_on=[metrics],
        )
        self.register_outputs({"role_arn": self.role.arn})


def _autoscaler_policy(cluster_name: str) -> str:
    """The upstream "full features" policy, with writes limited to this cluster's groups (EKS
    tags a managed node group's Auto Scaling group `k8s.io/cluster-autoscaler/<cluster>`)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                        "eks:DescribeNodegroup",
                    ],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:SetDesiredCapacity",
                        "autoscaling:TerminateInstanceInAutoScalingGroup",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                        }
                    },
                },
            ],
        }
    )
