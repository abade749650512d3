"""Small helpers shared by the components: IAM policy documents and name shaping."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal assume a role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"]
                    if service == "pods.eks.amazonaws.com"
                    else "sts:AssumeRole",
                }
            ],
        }
    )


def service_role(
    name: str,
    *,
    service: str,
    managed_policy_arn: str,
    attachment_name: str,
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """A role that one AWS service assumes, with one AWS managed policy attached."""
    role = aws.iam.Role(name, assume_role_policy=assume_role_policy(service), opts=opts)
    aws.iam.RolePolicyAttachment(
        attachment_name, role=role.name, policy_arn=managed_policy_arn, opts=opts
    )
    return role


def irsa_trust_policy(
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
) -> pulumi.Output[str]:
    """Trust policy for one Kubernetes service account through the cluster's OIDC provider."""
    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
        lambda v: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": v[0]},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{_host(v[1])}:sub": (
                                    f"system:serviceaccount:{namespace}:{service_account}"
                                ),
                                f"{_host(v[1])}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            }
        )
    )


def _host(issuer: str) -> str:
    return issuer.removeprefix("https://")


def policy_document(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    """An IAM policy document whose statements may hold Outputs (ARNs)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})
