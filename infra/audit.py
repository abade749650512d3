"""Audit and detection for one region: GuardDuty with EKS protection, AWS Config recording with
a few managed rules and, in the primary region, the account's multi-region CloudTrail trail.

Everything is delivered to the log archive bucket (a hardened `Backups` bucket in the primary
region: SSE-KMS with the `audit` key, deletes denied to everyone, replicated to the DR region,
expired by its lifecycle after a year).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra._util import policy_document, service_role

# GuardDuty features (pulumi-aws 7.51.1 `aws.guardduty.DetectorFeature.name`): the EKS audit
# log stream, and runtime monitoring with GuardDuty managing its security agent as an EKS add-on.
GUARDDUTY_FEATURES: dict[str, tuple[str, ...]] = {
    "EKS_AUDIT_LOGS": (),
    "RUNTIME_MONITORING": ("EKS_ADDON_MANAGEMENT",),
}

# AWS Config managed rules (source identifiers) that hold the promises this stack makes.
CONFIG_RULES: dict[str, str] = {
    "cloudtrail-enabled": "CLOUD_TRAIL_ENABLED",
    "s3-public-read-prohibited": "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    "rds-storage-encrypted": "RDS_STORAGE_ENCRYPTED",
    "eks-secrets-encrypted": "EKS_SECRETS_ENCRYPTED",
    "ebs-volumes-encrypted": "ENCRYPTED_VOLUMES",
    "guardduty-enabled": "GUARDDUTY_ENABLED_CENTRALIZED",
}

CONFIG_SNAPSHOT_FREQUENCY = "TwentyFour_Hours"


@dataclass(frozen=True, kw_only=True)
class AuditArgs:
    region: str
    archive_bucket: pulumi.Input[str]  # the log archive's bucket name
    archive_bucket_arn: pulumi.Input[str]
    archive_key_arn: pulumi.Input[str]  # the archive's KMS key (the primary region's `audit`)
    # The primary region owns the account-wide pieces: the multi-region trail, Config's IAM
    # role and the recording of global resources (IAM), which must be recorded only once.
    primary: bool
    # Config's role, created by the primary region's Audit; the DR region reuses it.
    config_role_arn: pulumi.Input[str] | None = None


class Audit(pulumi.ComponentResource):
    """Creates a GuardDuty detector (EKS audit logs, EKS runtime monitoring), an AWS Config
    recorder of all supported resources with its delivery channel (SSE-KMS, daily snapshots)
    and managed rules; in the primary region also Config's IAM role and a multi-region
    CloudTrail trail (global service events, log file validation, KMS)."""

    detector: aws.guardduty.Detector
    recorder: aws.cfg.Recorder
    config_role_arn: pulumi.Output[str]
    trail: aws.cloudtrail.Trail | None

    def __init__(self, name: str, args: AuditArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:audit:Audit", name, None, opts)
        if args.primary == (args.config_role_arn is not None):
            raise ValueError("the primary region creates Config's role; the others reuse it")
        child = pulumi.ResourceOptions(parent=self)
        self.detector = aws.guardduty.Detector(
            f"{name}-guardduty",
            enable=True,
            finding_publishing_frequency="FIFTEEN_MINUTES",
            opts=child,
        )
        for feature, extras in GUARDDUTY_FEATURES.items():
            aws.guardduty.DetectorFeature(
                f"{name}-guardduty-{feature.lower().replace('_', '-')}",
                detector_id=self.detector.id,
                name=feature,
                status="ENABLED",
                additional_configurations=[{"name": e, "status": "ENABLED"} for e in extras]
                or None,
                opts=child,
            )
        if args.config_role_arn is None:
            self.config_role_arn = self._config_role(name, args).arn
        else:
            self.config_role_arn = pulumi.Output.from_input(args.config_role_arn)
        self.recorder = aws.cfg.Recorder(
            f"{name}-config",
            name=f"{name}-config",
            role_arn=self.config_role_arn,
            recording_group={
                "all_supported": True,
                "include_global_resource_types": args.primary,
            },
            opts=child,
        )
        channel = aws.cfg.DeliveryChannel(
            f"{name}-config-delivery",
            name=f"{name}-config",
            s3_bucket_name=args.archive_bucket,
            s3_kms_key_arn=args.archive_key_arn,
            snapshot_delivery_properties={"delivery_frequency": CONFIG_SNAPSHOT_FREQUENCY},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.recorder]),
        )
        status = aws.cfg.RecorderStatus(
            f"{name}-config-status",
            name=self.recorder.name,
            is_enabled=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[channel]),
        )
        for rule, identifier in CONFIG_RULES.items():
            aws.cfg.Rule(
                f"{name}-{rule}",
                name=f"{name}-{rule}",
                source={"owner": "AWS", "source_identifier": identifier},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[status]),
            )
        self.trail = None
        if args.primary:
            self.trail = aws.cloudtrail.Trail(
                f"{name}-trail",
                name=f"{name}-trail",
                s3_bucket_name=args.archive_bucket,
                is_multi_region_trail=True,
                include_global_service_events=True,
                enable_log_file_validation=True,
                enable_logging=True,
                kms_key_id=args.archive_key_arn,
                opts=child,
            )
        self.register_outputs(
            {
                "detector_id": self.detector.id,
                "trail_arn": self.trail.arn if self.trail else None,
            }
        )

    def _config_role(self, name: str, args: AuditArgs) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        role = service_role(
            f"{name}-config-role",
            service="config.amazonaws.com",
            managed_policy_arn="arn:aws:iam::aws:policy/service-role/AWS_ConfigRole",
            attachment_name=f"{name}-config-role-policy",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-config-delivery-policy",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": pulumi.Output.concat(args.archive_bucket_arn, "/AWSLogs/*"),
                        "Condition": {
                            "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}
                        },
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetBucketAcl",
                        "Resource": args.archive_bucket_arn,
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                        "Resource": args.archive_key_arn,
                    },
                ]
            ),
            opts=child,
        )
        return role
