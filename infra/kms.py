"""Customer-managed KMS keys, one per purpose, for one region."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra._util import policy_document

# Purposes that get their own key; a compromised or disabled key then touches one concern.
PURPOSES: tuple[str, ...] = (
    "eks",
    "rds",
    "elasticache",
    "s3",
    "logs",
    "secrets",
    "ecr",
    "alerts",
    "audit",
)


@dataclass(frozen=True, kw_only=True)
class KmsArgs:
    region: str
    account_id: pulumi.Input[str]
    purposes: tuple[str, ...] = PURPOSES
    deletion_window_days: int = 30
    protect: bool = False


class Kms(pulumi.ComponentResource):
    """Creates, per purpose: a symmetric `aws.kms.Key` with yearly rotation and an alias.

    The `logs` key also trusts CloudWatch Logs in this region, the `alerts` key lets
    CloudWatch alarms and AWS Budgets publish to an encrypted SNS topic, the `audit` key lets
    CloudTrail encrypt this account's trails' log files (AWS Config delivers with its IAM role).
    """

    keys: dict[str, aws.kms.Key]

    def __init__(self, name: str, args: KmsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:kms:Kms", name, None, opts)
        unknown = set(args.purposes) - set(PURPOSES)
        if unknown:
            raise ValueError(f"unknown KMS key purposes: {sorted(unknown)}")
        self.keys = {}
        for purpose in args.purposes:
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"utp {purpose} ({args.region})",
                enable_key_rotation=True,
                rotation_period_in_days=365,
                deletion_window_in_days=args.deletion_window_days,
                key_usage="ENCRYPT_DECRYPT",
                customer_master_key_spec="SYMMETRIC_DEFAULT",
                policy=self._policy(purpose, args),
                tags={"Purpose": purpose},
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            aws.kms.Alias(
                f"{name}-{purpose}-alias",
                name=f"alias/{name}-{purpose}",
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.keys[purpose] = key
        self.register_outputs({f"{p}_key_arn": k.arn for p, k in self.keys.items()})

    def arn(self, purpose: str) -> pulumi.Output[str]:
        arn: pulumi.Output[str] = self.keys[purpose].arn
        return arn

    @staticmethod
    def _policy(purpose: str, args: KmsArgs) -> pulumi.Output[str]:
        root = pulumi.Output.concat("arn:aws:iam::", args.account_id, ":root")
        statements: list[dict[str, object]] = [
            {
                "Sid": "AccountAdministersKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
        if purpose == "logs":
            statements.append(
                {
                    "Sid": "CloudWatchLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{args.region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": pulumi.Output.concat(
                                "arn:aws:logs:", args.region, ":", args.account_id, ":*"
                            )
                        }
                    },
                }
            )
        if purpose == "alerts":
            statements.append(
                {
                    "Sid": "AlarmAndBudgetPublishers",
                    "Effect": "Allow",
                    "Principal": {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                }
            )
        if purpose == "audit":
            trails = pulumi.Output.concat("arn:aws:cloudtrail:*:", args.account_id, ":trail/*")
            statements += [
                {
                    "Sid": "CloudTrailEncryptsLogFiles",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "kms:GenerateDataKey*",
                    "Resource": "*",
                    "Condition": {
                        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
                        "StringEquals": {"aws:SourceAccount": args.account_id},
                    },
                },
                {
                    "Sid": "CloudTrailDescribesTheKey",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "kms:DescribeKey",
                    "Resource": "*",
                },
            ]
        return policy_document(statements)
