"""Autoscaling component and the EKS spot pool, as recorded."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s
import pytest

from infra.autoscaling import AUTOSCALER_IMAGE_TAGS, Autoscaling, AutoscalingArgs
from infra.eks import SPOT_TAINT_KEY, EksCluster, EksClusterArgs
from tests.infra.support import aws_opts

ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"


def _autoscaling(version: str = "1.35") -> None:
    opts = aws_opts()
    provider = k8s.Provider("k8s", kubeconfig="{}")
    Autoscaling(
        "a",
        AutoscalingArgs(
            cluster_name="utp-stg-use1-eks",
            region="us-east-1",
            kubernetes_version=version,
            oidc_provider_arn=f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}",
            oidc_issuer=ISSUER,
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers=[provider])),
    )


def _releases(g):
    return {r.inputs["chart"]: r for r in g.of_type("kubernetes:helm.sh/v3:Release")}


def test_metrics_server_feeds_the_hpa(build):
    g = build(_autoscaling)
    ms = _releases(g)["metrics-server"]
    assert ms.inputs["namespace"] == "kube-system"
    values = ms.inputs["values"]
    assert values["replicas"] == 2 and values["podDisruptionBudget"]["enabled"] is True


def test_cluster_autoscaler_matches_the_cluster_and_has_a_scoped_irsa_role(build):
    g = build(_autoscaling)
    ca = _releases(g)["cluster-autoscaler"].inputs["values"]
    assert ca["autoDiscovery"]["clusterName"] == "utp-stg-use1-eks"
    assert ca["awsRegion"] == "us-east-1"
    assert ca["image"]["tag"] == AUTOSCALER_IMAGE_TAGS["1.35"] and ca["image"]["tag"].startswith(
        "v1.35."
    )
    account = ca["rbac"]["serviceAccount"]
    assert account["name"] == "cluster-autoscaler"
    (role,) = g.of_type("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"]["StringEquals"][f"{ISSUER}:sub"] == (
        "system:serviceaccount:kube-system:cluster-autoscaler"
    )
    (policy,) = g.of_type("aws:iam/rolePolicy:RolePolicy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    writes = [s for s in statements if "autoscaling:SetDesiredCapacity" in s["Action"]]
    # Only Auto Scaling groups EKS tagged for this cluster can be resized.
    assert writes and all(
        s["Condition"]["StringEquals"]
        == {"aws:ResourceTag/k8s.io/cluster-autoscaler/utp-stg-use1-eks": "owned"}
        for s in writes
    )
    assert "eks:DescribeNodegroup" in statements[0]["Action"]  # scale a pool up from zero


def test_autoscaler_refuses_an_unpinned_kubernetes_version(build):
    with pytest.raises(ValueError, match="no Cluster Autoscaler release pinned"):
        build(lambda: _autoscaling("1.20"))


def _eks(spot: tuple[str, ...]) -> None:
    EksCluster(
        "c",
        EksClusterArgs(
            region="us-east-1",
            kubernetes_version="1.35",
            vpc_id="vpc-1",
            subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
            secrets_key_arn="arn:aws:kms:us-east-1:123456789012:key/eks",
            logs_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs",
            log_retention_days=90,
            admin_role_arns=("arn:aws:iam::123456789012:role/platform-admin",),
            spot_instance_types=spot,
            spot_max_nodes=4,
        ),
        opts=aws_opts(),
    )


def test_spot_pool_is_tainted_and_scales_from_zero(build):
    g = build(lambda: _eks(("m6i.large", "m6a.large")))
    groups = {n.inputs["capacityType"]: n for n in g.of_type("aws:eks/nodeGroup:NodeGroup")}
    assert set(groups) == {"ON_DEMAND", "SPOT"}
    spot = groups["SPOT"].inputs
    assert spot["instanceTypes"] == ["m6i.large", "m6a.large"]
    assert spot["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 4}
    assert spot["taints"] == [{"key": SPOT_TAINT_KEY, "value": "spot", "effect": "NO_SCHEDULE"}]
    assert spot["labels"] == {"utp.dev/pool": "spot"}
    assert "taints" not in groups["ON_DEMAND"].inputs


def test_no_spot_pool_when_no_spot_types(build):
    g = build(lambda: _eks(()))
    (group,) = g.of_type("aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["capacityType"] == "ON_DEMAND"
