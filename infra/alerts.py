"""The operators' alert channel (encrypted SNS topic) and the AWS Budget that reports to it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra._util import policy_document


@dataclass(frozen=True, kw_only=True)
class AlertTopicArgs:
    kms_key_arn: pulumi.Input[str]
    emails: tuple[str, ...]
    account_id: pulumi.Input[str]


class AlertTopic(pulumi.ComponentResource):
    """Creates a KMS-encrypted SNS topic that CloudWatch alarms and AWS Budgets may publish to
    (from this account only), with an email subscription per address."""

    topic: aws.sns.Topic

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:alerts:AlertTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(f"{name}-topic", kms_master_key_id=args.kms_key_arn, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=policy_document(
                [
                    {
                        "Sid": "AlarmsAndBudgetsPublish",
                        "Effect": "Allow",
                        "Principal": {
                            "Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
                        },
                        "Action": "SNS:Publish",
                        "Resource": self.topic.arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                    },
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "SNS:Publish",
                        "Resource": self.topic.arn,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ]
            ),
            opts=child,
        )
        for i, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{i}",
                topic=self.topic.arn,
                protocol="email",
                endpoint=email,
                opts=child,
            )
        self.register_outputs({"topic_arn": self.topic.arn})


@dataclass(frozen=True, kw_only=True)
class CostBudgetArgs:
    environment: str
    monthly_usd: int
    yearly_usd: int
    emails: tuple[str, ...]
    topic_arn: pulumi.Input[str]
    # Percentages of the limit: actual spend alerts, then forecast alerts.
    actual_thresholds: tuple[int, ...] = (80, 100)
    forecast_thresholds: tuple[int, ...] = (100,)


class CostBudget(pulumi.ComponentResource):
    """Creates a monthly and a yearly AWS cost budget scoped by the `Environment`
    cost-allocation tag, each with actual and forecast notifications to email and the alert
    topic. The yearly one catches a steady overrun that stays under each month's alert."""

    budget: aws.budgets.Budget
    yearly: aws.budgets.Budget

    def __init__(self, name: str, args: CostBudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:alerts:CostBudget", name, None, opts)
        notifications = [
            {
                "comparison_operator": "GREATER_THAN",
                "threshold": float(pct),
                "threshold_type": "PERCENTAGE",
                "notification_type": kind,
                "subscriber_email_addresses": list(args.emails),
                "subscriber_sns_topic_arns": [args.topic_arn],
            }
            for kind, pcts in (
                ("ACTUAL", args.actual_thresholds),
                ("FORECASTED", args.forecast_thresholds),
            )
            for pct in pcts
        ]

        def budget(resource: str, period: str, time_unit: str, usd: int) -> aws.budgets.Budget:
            return aws.budgets.Budget(
                resource,
                name=f"{name}-{period}",
                budget_type="COST",
                limit_amount=str(usd),
                limit_unit="USD",
                time_unit=time_unit,
                cost_filters=[
                    {"name": "TagKeyValue", "values": [f"user:Environment${args.environment}"]}
                ],
                notifications=notifications,
                opts=pulumi.ResourceOptions(parent=self),
            )

        # The monthly budget keeps its original resource name: renaming would replace it.
        self.budget = budget(f"{name}-budget", "monthly", "MONTHLY", args.monthly_usd)
        self.yearly = budget(f"{name}-yearly", "yearly", "ANNUALLY", args.yearly_usd)
        self.register_outputs({"budget": self.budget.name, "yearly": self.yearly.name})
