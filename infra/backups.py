"""Hardened S3 buckets (the database backups, the audit log archive): versioned, tiered,
logged, and replicated across regions."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra._util import assume_role_policy, irsa_trust_policy, policy_document

_SseDefault = (
    aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs
)


@dataclass(frozen=True, kw_only=True)
class ReplicationTarget:
    """Where a bucket replicates to: the replica bucket and its region's S3 KMS key."""

    bucket_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


def prune_service_account(backup_service_account: str) -> str:
    """The prune CronJob's service account, beside the backup job's (same namespace)."""
    return f"{backup_service_account}-prune"


@dataclass(frozen=True, kw_only=True)
class BackupIdentity:
    """The Kubernetes service account (IRSA) of the backup job; the only writer. Its prune
    job (`prune_service_account`) is the only principal that may delete."""

    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    namespace: str
    service_account: str


@dataclass(frozen=True, kw_only=True)
class BackupsArgs:
    # S3 names are global across all accounts: include something only this account has.
    bucket_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    production: bool = False
    noncurrent_expiry_days: int = 90
    # Backstop for `utp backups prune` (12 monthly backups reach back ~12 months): what
    # retention no longer keeps expires even if the prune job stops running.
    expiry_days: int = 400
    log_expiry_days: int = 365
    replicate_to: ReplicationTarget | None = None
    writer: BackupIdentity | None = None
    # Storage-class transitions (days, class); each must come before `expiry_days`.
    transitions: tuple[tuple[int, str], ...] = (
        (30, "STANDARD_IA"),
        (90, "GLACIER"),
        (365, "DEEP_ARCHIVE"),
    )
    # An archive nobody may delete from (the bucket policy denies deleting objects and their
    # versions to every principal); only the lifecycle expires what is past retention.
    deny_deletes: bool = False
    # An archive kept in noncurrent versions (Loki's logs): its writer may delete, which only
    # leaves a delete marker; deleting a version is denied to every principal, so only the
    # lifecycle's noncurrent expiry removes data.
    deny_version_deletes: bool = False
    # AWS services that deliver into `AWSLogs/<account_id>/` (CloudTrail, AWS Config).
    log_delivery_services: tuple[str, ...] = ()
    account_id: pulumi.Input[str] | None = None


class Backups(pulumi.ComponentResource):
    """Creates an access-log bucket and the backup bucket: all four public-access-block flags,
    BucketOwnerEnforced, SSE-KMS with a bucket key, versioning, a TLS-only policy, lifecycle
    (Standard -> IA 30 d -> Glacier 90 d -> Deep Archive 365 d, noncurrent expiry, abort
    incomplete uploads, expiry after `expiry_days`), access logging; optionally cross-region
    replication with replication time control into a replica KMS key, an IRSA role that is the
    bucket's only writer, and one for its prune job, the only principal that may delete. As a
    log archive (`deny_deletes`, `log_delivery_services`): nobody may delete, and the named AWS
    services may write under `AWSLogs/<account_id>/` only. (`pulumi destroy` removes the bucket
    policy before the bucket, so a staging teardown still empties it.)
    """

    bucket: aws.s3.Bucket
    writer_role: aws.iam.Role | None
    prune_role: aws.iam.Role | None
    replication_role: aws.iam.Role | None

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:backups:Backups", name, None, opts)
        if any(days >= args.expiry_days for days, _ in args.transitions):
            raise ValueError("every storage-class transition must come before the expiry")
        if args.log_delivery_services and args.account_id is None:
            raise ValueError("log delivery into AWSLogs/<account>/ needs the account id")
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.production)
        logs = aws.s3.Bucket(
            f"{name}-access-logs",
            bucket=pulumi.Output.concat(args.bucket_name, "-access-logs"),
            force_destroy=not args.production,
            opts=stateful,
        )
        # Server access log delivery supports SSE-S3 only on the target bucket.
        self._harden(f"{name}-access-logs", logs, None)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            bucket=logs.id,
            rules=[
                {
                    "id": "expire-logs",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": args.log_expiry_days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=child,
        )
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=not args.production,
            opts=stateful,
        )
        self.writer_role = self.prune_role = None
        writers: list[pulumi.Input[str]] = []
        deleters: list[pulumi.Input[str]] = []
        if args.writer is not None:
            self.writer_role = self._create_writer(args.writer, args.kms_key_arn)
            writers.append(self.writer_role.arn)
            self.prune_role = self._create_pruner(args.writer, args.kms_key_arn)
            deleters.append(self.prune_role.arn)
        versioning = self._harden(
            f"{name}-bucket",
            self.bucket,
            args.kms_key_arn,
            writers=writers,
            deleters=deleters,
            logs=logs,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[
                {
                    "id": "tiering",
                    "status": "Enabled",
                    "filter": {},
                    "transitions": [
                        {"days": days, "storage_class": storage_class}
                        for days, storage_class in args.transitions
                    ],
                    "expiration": {"days": args.expiry_days},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": args.noncurrent_expiry_days
                    },
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        self.replication_role = None
        if args.replicate_to is not None:
            self.replication_role = self._create_replication(
                args.replicate_to, args.kms_key_arn, versioning
            )
        self.register_outputs({"bucket": self.bucket.bucket, "arn": self.bucket.arn})

    def _harden(
        self,
        name: str,
        bucket: aws.s3.Bucket,
        kms_key_arn: pulumi.Input[str] | None,
        *,
        writers: list[pulumi.Input[str]] | None = None,
        deleters: list[pulumi.Input[str]] | None = None,
        logs: aws.s3.Bucket | None = None,
    ) -> aws.s3.BucketVersioning:
        child = pulumi.ResourceOptions(parent=self)
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=_SseDefault(
                        sse_algorithm="aws:kms" if kms_key_arn is not None else "AES256",
                        kms_master_key_id=kms_key_arn,
                    ),
                    bucket_key_enabled=kms_key_arn is not None,
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=child,
        )
        statements: list[dict[str, object]] = [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        if writers:
            statements.append(
                {
                    "Sid": "OnlyTheBackupJobWrites",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": ["s3:PutObject", "s3:DeleteObjectVersion"],
                    "Resource": pulumi.Output.concat(bucket.arn, "/*"),
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": writers}},
                }
            )
            # Deleting leaves a delete marker (versioning); the data itself goes with the
            # noncurrent-version expiry, so no job ever needs DeleteObjectVersion.
            statements.append(
                {
                    "Sid": "OnlyThePruneJobDeletes",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:DeleteObject",
                    "Resource": pulumi.Output.concat(bucket.arn, "/*"),
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": deleters or writers}},
                }
            )
        if logs is not None:
            statements.extend(self._archive_statements(bucket))
        if logs is None and kms_key_arn is None:
            statements.append(
                {
                    "Sid": "S3ServerAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(bucket.arn, "/*"),
                }
            )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(statements),
            # A public-access block must exist before a policy, or S3 may reject the order.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        if logs is not None:
            aws.s3.BucketLogging(
                f"{name}-logging",
                bucket=bucket.id,
                target_bucket=logs.id,
                target_prefix="s3/",
                opts=child,
            )
        return versioning

    def _archive_statements(self, bucket: aws.s3.Bucket) -> list[dict[str, object]]:
        args = self._args
        objects = pulumi.Output.concat(bucket.arn, "/*")
        statements: list[dict[str, object]] = []
        if args.deny_version_deletes and not args.deny_deletes:
            statements.append(
                {
                    "Sid": "NobodyDeletesVersions",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:DeleteObjectVersion",
                    "Resource": objects,
                }
            )
        if args.deny_deletes:
            statements.append(
                {
                    "Sid": "NobodyDeletes",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
                    "Resource": objects,
                }
            )
        if args.log_delivery_services:
            account = args.account_id
            assert account is not None  # checked in __init__
            services = list(args.log_delivery_services)
            source = {"aws:SourceAccount": args.account_id}
            statements += [
                {
                    "Sid": "LogDeliveryChecksTheBucket",
                    "Effect": "Allow",
                    "Principal": {"Service": services},
                    "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                    "Resource": bucket.arn,
                    "Condition": {"StringEquals": source},
                },
                {
                    "Sid": "LogDeliveryWritesItsPrefix",
                    "Effect": "Allow",
                    "Principal": {"Service": services},
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(bucket.arn, "/AWSLogs/", account, "/*"),
                    "Condition": {
                        "StringEquals": {**source, "s3:x-amz-acl": "bucket-owner-full-control"}
                    },
                },
            ]
        return statements

    def _create_writer(self, who: BackupIdentity, kms_key_arn: pulumi.Input[str]) -> aws.iam.Role:
        return self._job_role(
            "writer",
            who,
            who.service_account,
            [
                {
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                    "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                },
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": self.bucket.arn},
                {
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": kms_key_arn,
                },
            ],
        )

    def _create_pruner(self, who: BackupIdentity, kms_key_arn: pulumi.Input[str]) -> aws.iam.Role:
        """`utp backups prune`: list, read manifests, delete current versions. Nothing else."""
        return self._job_role(
            "prune",
            who,
            prune_service_account(who.service_account),
            [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:DeleteObject"],
                    "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                },
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": self.bucket.arn},
                {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": kms_key_arn},
            ],
        )

    def _job_role(
        self,
        kind: str,
        who: BackupIdentity,
        service_account: str,
        statements: list[dict[str, object]],
    ) -> aws.iam.Role:
        """An IRSA role for one of the service's backup jobs, allowed `statements` only."""
        role = aws.iam.Role(
            f"{self._name}-{kind}-role",
            assume_role_policy=irsa_trust_policy(
                who.oidc_provider_arn, who.oidc_issuer, who.namespace, service_account
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{kind}-policy",
            role=role.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role

    def _create_replication(
        self,
        target: ReplicationTarget,
        source_key_arn: pulumi.Input[str],
        versioning: aws.s3.BucketVersioning,
    ) -> aws.iam.Role:
        name = self._name
        role = aws.iam.Role(
            f"{name}-replication-role",
            assume_role_policy=assume_role_policy("s3.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                        "Resource": self.bucket.arn,
                    },
                    {
                        "Effect": "Allow",
                        "Action": [
                            "s3:GetObjectVersionForReplication",
                            "s3:GetObjectVersionAcl",
                            "s3:GetObjectVersionTagging",
                        ],
                        "Resource": pulumi.Output.concat(self.bucket.arn, "/*"),
                    },
                    {
                        "Effect": "Allow",
                        "Action": [
                            "s3:ReplicateObject",
                            "s3:ReplicateDelete",
                            "s3:ReplicateTags",
                        ],
                        "Resource": pulumi.Output.concat(target.bucket_arn, "/*"),
                    },
                    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": source_key_arn},
                    {
                        "Effect": "Allow",
                        "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                        "Resource": target.kms_key_arn,
                    },
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=self.bucket.id,
            role=role.arn,
            rules=[
                {
                    "id": "to-dr-region",
                    "status": "Enabled",
                    "filter": {},
                    "priority": 1,
                    "delete_marker_replication": {"status": "Enabled"},
                    "source_selection_criteria": {
                        "sse_kms_encrypted_objects": {"status": "Enabled"}
                    },
                    "destination": {
                        "bucket": target.bucket_arn,
                        "storage_class": "STANDARD_IA",
                        "encryption_configuration": {"replica_kms_key_id": target.kms_key_arn},
                        # RTC: 99.99 % of objects within 15 minutes, with metrics to prove it.
                        "replication_time": {"status": "Enabled", "time": {"minutes": 15}},
                        "metrics": {"status": "Enabled", "event_threshold": {"minutes": 15}},
                    },
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        return role
