"""ElastiCache Redis 7: a Multi-AZ replication group with encryption and an auth token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

# The second hour of the Sunday 02:00-04:00 UTC maintenance promise (the database has the
# first; ElastiCache windows are at least 60 minutes). Snapshots run before it, not during.
MAINTENANCE_WINDOW = "sun:03:00-sun:04:00"
SNAPSHOT_WINDOW = "00:30-01:30"


@dataclass(frozen=True, kw_only=True)
class CacheArgs:
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    client_security_group_ids: Sequence[pulumi.Input[str]]
    kms_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    node_type: str
    nodes: int = 2
    engine_version: str = "7.1"
    snapshot_retention_days: int = 7
    production: bool = False


class Cache(pulumi.ComponentResource):
    """Creates a subnet group, a security group open on 6379 only to the given client groups, a
    random auth token kept in a KMS-encrypted Secrets Manager secret, slow-log and engine-log
    groups (KMS, retention), and a Redis 7 replication group: at-rest CMK encryption, transit
    encryption required with the auth token, Multi-AZ automatic failover over >= 2 nodes,
    daily snapshots.
    """

    replication_group: aws.elasticache.ReplicationGroup
    auth_secret: aws.secretsmanager.Secret
    auth_token: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:cache:Cache", name, None, opts)
        if args.nodes < 2:
            raise ValueError("automatic failover needs at least 2 cache nodes")
        if not args.engine_version.startswith("7"):
            raise ValueError("the service expects Redis 7")
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            subnet_ids=list(args.subnet_ids),
            description=f"{name} cache subnets",
            opts=child,
        )
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args.vpc_id,
            description=f"{name}: Redis from the cluster only",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 6379,
                    "to_port": 6379,
                    "security_groups": list(args.client_security_group_ids),
                    "description": "EKS workloads",
                }
            ],
            opts=child,
        )
        # ElastiCache auth tokens allow only printable characters other than / " @.
        token = random.RandomPassword(
            f"{name}-auth-token",
            length=64,
            special=True,
            override_special="!&#$^<>-",
            opts=child,
        )
        self.auth_token = pulumi.Output.secret(token.result)
        self.auth_secret = aws.secretsmanager.Secret(
            f"{name}-auth",
            name=f"{name}/redis-auth-token",
            description=f"{name} Redis AUTH token",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=30 if args.production else 7,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-auth-value",
            secret_id=self.auth_secret.id,
            secret_string=self.auth_token,
            opts=child,
        )
        logs = {
            kind: aws.cloudwatch.LogGroup(
                f"{name}-{kind}-log",
                name=f"/aws/elasticache/{name}/{kind}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.logs_key_arn,
                opts=child,
            )
            for kind in ("slow-log", "engine-log")
        }
        self.replication_group = aws.elasticache.ReplicationGroup(
            f"{name}-redis",
            replication_group_id=name,
            description=f"{name} Redis",
            engine="redis",
            engine_version=args.engine_version,
            parameter_group_name="default.redis7",
            node_type=args.node_type,
            num_cache_clusters=args.nodes,
            port=6379,
            subnet_group_name=subnets.name,
            security_group_ids=[sg.id],
            at_rest_encryption_enabled=True,
            kms_key_id=args.kms_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self.auth_token,
            auth_token_update_strategy="ROTATE",  # noqa: S106 - a strategy name
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window=SNAPSHOT_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            auto_minor_version_upgrade=True,
            apply_immediately=not args.production,
            final_snapshot_identifier=f"{name}-final" if args.production else None,
            log_delivery_configurations=[
                {
                    "destination": group.name,
                    "destination_type": "cloudwatch-logs",
                    "log_format": "json",
                    "log_type": kind,
                }
                for kind, group in logs.items()
            ],
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        self.register_outputs(
            {
                "primary_endpoint": self.replication_group.primary_endpoint_address,
                "auth_secret_arn": self.auth_secret.arn,
                "security_group_id": sg.id,
            }
        )
