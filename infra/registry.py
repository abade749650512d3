"""ECR repository for the service image and the Secrets Manager secrets the service reads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from infra._util import assume_role_policy, policy_document

# Keep the last 50 release images; untagged layers go after a week.
_LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "expire untagged",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 7,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "keep the last 50 images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": 50,
                },
                "action": {"type": "expire"},
            },
        ]
    }
)


@dataclass(frozen=True, kw_only=True)
class RegistryArgs:
    repository_name: str
    kms_key_arn: pulumi.Input[str]
    replica_region: str
    account_id: pulumi.Input[str]


class Registry(pulumi.ComponentResource):
    """Creates the service's ECR repository (immutable tags, scan on push, KMS, lifecycle) and the
    registry's replication of it to the DR region."""

    repository: aws.ecr.Repository

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:registry:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repository = aws.ecr.Repository(
            f"{name}-repo",
            name=args.repository_name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle", repository=self.repository.name, policy=_LIFECYCLE, opts=child
        )
        aws.ecr.ReplicationConfiguration(
            f"{name}-replication",
            replication_configuration={
                "rules": [
                    {
                        "destinations": [
                            {"region": args.replica_region, "registry_id": args.account_id}
                        ],
                        "repository_filters": [
                            {"filter": args.repository_name, "filter_type": "PREFIX_MATCH"}
                        ],
                    }
                ]
            },
            opts=child,
        )
        self.register_outputs({"repository_url": self.repository.repository_url})


@dataclass(frozen=True, kw_only=True)
class RegistryReplicaArgs:
    repository_name: str
    kms_key_arn: pulumi.Input[str]


class RegistryReplica(pulumi.ComponentResource):
    """In the DR region: a creation template so replicated repositories are KMS-encrypted and
    immutable like their source, and the role ECR creates them with. ECR's service-linked role
    may only create repositories; a template that uses a KMS key (or tags) needs a custom role
    allowed to replicate into it and to grant ECR the key."""

    def __init__(
        self, name: str, args: RegistryReplicaArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("utp:registry:RegistryReplica", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-template-role",
            assume_role_policy=assume_role_policy("ecr.amazonaws.com"),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-template-policy",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"],
                        "Resource": "*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"],
                        "Resource": args.kms_key_arn,
                    },
                ]
            ),
            opts=child,
        )
        aws.ecr.RepositoryCreationTemplate(
            f"{name}-template",
            prefix=args.repository_name,
            applied_fors=["REPLICATION"],
            image_tag_mutability="IMMUTABLE",
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": args.kms_key_arn}],
            custom_role_arn=role.arn,
            lifecycle_policy=_LIFECYCLE,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"custom_role_arn": role.arn})


@dataclass(frozen=True, kw_only=True)
class AppSecretsArgs:
    prefix: str  # secret names: <prefix>/<key>
    kms_key_arn: pulumi.Input[str]
    replica_region: str
    replica_kms_key_arn: pulumi.Input[str]
    # Provider API keys known to config (Pulumi secrets); the others exist without a value.
    provider_keys: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    providers: tuple[str, ...] = ("deepl", "google", "openai", "anthropic")
    production: bool = False


class AppSecrets(pulumi.ComponentResource):
    """Creates KMS-encrypted Secrets Manager secrets, replicated to the DR region: one per
    translation provider API key, the service's signing key (random, 64 characters) and its
    encryption key (random, 32 bytes)."""

    secrets: dict[str, aws.secretsmanager.Secret]
    configured: tuple[str, ...]  # secret keys that hold a value

    def __init__(self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:registry:AppSecrets", name, None, opts)
        unknown = set(args.provider_keys) - set(args.providers)
        if unknown:
            raise ValueError(f"unknown providers: {sorted(unknown)}")
        child = pulumi.ResourceOptions(parent=self)
        self.secrets = {}
        values: dict[str, pulumi.Input[str]] = {
            f"{p}-api-key": v for p, v in args.provider_keys.items()
        }
        signing = random.RandomPassword(f"{name}-secret-key", length=64, special=False, opts=child)
        values["secret-key"] = signing.result
        # AES-256-GCM key sealing workspaces' provider keys and bot tokens at rest.
        sealing = random.RandomBytes(f"{name}-encryption-key", length=32, opts=child)
        values["encryption-key"] = sealing.base64
        for key in [*(f"{p}-api-key" for p in args.providers), "secret-key", "encryption-key"]:
            secret = aws.secretsmanager.Secret(
                f"{name}-{key}",
                name=f"{args.prefix}/{key}",
                kms_key_id=args.kms_key_arn,
                recovery_window_in_days=30 if args.production else 7,
                replicas=[{"region": args.replica_region, "kms_key_id": args.replica_kms_key_arn}],
                opts=child,
            )
            self.secrets[key] = secret
            if key in values:
                aws.secretsmanager.SecretVersion(
                    f"{name}-{key}-value",
                    secret_id=secret.id,
                    secret_string=pulumi.Output.secret(values[key]),
                    opts=child,
                )
        self.configured = tuple(sorted(values))
        self.register_outputs({k: s.arn for k, s in self.secrets.items()})
