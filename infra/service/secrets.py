"""The `utp-env` Secret, synced by External Secrets from Secrets Manager through IRSA."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra._util import irsa_trust_policy, policy_document
from infra.service.env import DATABASE_TLS_QUERY
from infra.service.scope import Scope

REFRESH_INTERVAL = "1m"  # see the ExternalSecret below


def create_external_secret(scope: Scope) -> k8s.apiextensions.CustomResource:
    name, a, ns = scope.name, scope.args, scope.args.namespace
    sources: list[pulumi.Input[str]] = [
        a.database_secret_arn,
        a.redis_secret_arn,
        a.secret_key_arn,
        a.encryption_key_arn,
        *a.provider_key_arns.values(),
    ]
    role = aws.iam.Role(
        f"{name}-secrets-reader-role",
        assume_role_policy=irsa_trust_policy(a.oidc_provider_arn, a.oidc_issuer, ns, "utp-secrets"),
        opts=pulumi.ResourceOptions(parent=scope.parent),
    )
    statements: list[dict[str, object]] = [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            # A replicated secret keeps its name and suffix in every region.
            "Resource": [
                pulumi.Output.from_input(arn).apply(
                    lambda s: ":".join([*s.split(":")[:3], "*", *s.split(":")[4:]])
                )
                for arn in sources
            ],
        }
    ]
    if a.kms_key_arns:
        statements.append(
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": list(a.kms_key_arns)}
        )
    aws.iam.RolePolicy(
        f"{name}-secrets-reader-policy",
        role=role.id,
        policy=policy_document(statements),
        opts=pulumi.ResourceOptions(parent=scope.parent),
    )
    k8s.core.v1.ServiceAccount(
        f"{name}-secrets-sa",
        metadata={
            "name": "utp-secrets",
            "namespace": ns,
            "annotations": {"eks.amazonaws.com/role-arn": role.arn},
        },
        opts=scope.child,
    )
    stores = {"aws-secrets": a.region}
    if a.database_secret_region != a.region:
        stores["aws-secrets-database"] = a.database_secret_region
    for store, region in stores.items():
        k8s.apiextensions.CustomResource(
            f"{name}-{store}",
            api_version="external-secrets.io/v1",
            kind="SecretStore",
            metadata={"name": store, "namespace": ns},
            spec={
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": region,
                        "auth": {"jwt": {"serviceAccountRef": {"name": "utp-secrets"}}},
                    }
                }
            },
            opts=scope.child,
        )
    db_store = "aws-secrets-database" if "aws-secrets-database" in stores else "aws-secrets"

    def remote(key: str, arn: pulumi.Input[str], prop: str | None = None) -> dict[str, Any]:
        ref: dict[str, Any] = {"key": arn}
        if prop:
            ref["property"] = prop
        return {"secretKey": key, "remoteRef": ref}

    data = [
        {
            **remote("db_username", a.database_secret_arn, "username"),
            "sourceRef": {"storeRef": {"name": db_store, "kind": "SecretStore"}},
        },
        {
            **remote("db_password", a.database_secret_arn, "password"),
            "sourceRef": {"storeRef": {"name": db_store, "kind": "SecretStore"}},
        },
        remote("redis_token", a.redis_secret_arn),
        remote("secret_key", a.secret_key_arn),
        remote("encryption_key", a.encryption_key_arn),
        *(remote(p, arn) for p, arn in a.provider_key_arns.items()),
    ]
    template = {
        "UTP_DATABASE_URL": pulumi.Output.concat(
            "postgresql+asyncpg://{{ .db_username }}:{{ .db_password | urlquery }}@",
            a.database_host,
            f":5432/{a.database_name}?{DATABASE_TLS_QUERY}",
        ),
        "UTP_REDIS_URL": pulumi.Output.concat(
            "rediss://:{{ .redis_token | urlquery }}@", a.redis_host, ":6379/0"
        ),
        "UTP_SECRET_KEY": "{{ .secret_key }}",
        "UTP_ENCRYPTION_KEY": "{{ .encryption_key }}",
        **{f"UTP_{p.upper()}_API_KEY": f"{{{{ .{p} }}}}" for p in a.provider_key_arns},
    }
    return k8s.apiextensions.CustomResource(
        f"{name}-env",
        api_version="external-secrets.io/v1",
        kind="ExternalSecret",
        metadata={"name": "utp-env", "namespace": ns},
        spec={
            # How stale the pods' database URL file may be after a rotation: External Secrets
            # reads Secrets Manager again this often, and the kubelet then rewrites the mounted
            # file within its sync period (1 min) plus its watch delay. New connections are
            # refused for about that long; open ones are not affected. Each refresh costs one
            # GetSecretValue per secret it reads (~10, ~$2 a month per region).
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRef": {"name": "aws-secrets", "kind": "SecretStore"},
            "target": {
                "name": "utp-env",
                "creationPolicy": "Owner",
                "template": {"engineVersion": "v2", "data": template},
            },
            "data": data,
        },
        opts=scope.child,
    )
