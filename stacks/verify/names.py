"""Physical names the cloud APIs would refuse: too long, wrong characters, not unique.

Limits are the services' documented quotas (IAM role names 64, ElastiCache replication group
ids 40, RDS identifiers 63, S3 bucket names 3-63 lowercase, EKS node-group names 63, Helm
release names 53, Kubernetes DNS labels 63 / subdomains 253). A name the program leaves to
Pulumi gets `-` and 7 random hex characters (Kubernetes: 8), which count too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from stacks.graph import RecordedResource
from stacks.mocks import ACCOUNT_ID


@dataclass(frozen=True)
class NameRule:
    field: str
    limit: int
    autonamed: bool = True  # the provider generates the name when the field is absent
    pattern: re.Pattern[str] | None = None
    what: str = "name"


_LOWER_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # RDS / ElastiCache identifiers
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
AWS_AUTONAME_SUFFIX = 8  # "-" + 7 hex
K8S_AUTONAME_SUFFIX = 9  # "-" + 8 hex
# Terraform's prefixed unique id: 26 characters after a name prefix.
PREFIX_SUFFIX = 26

AWS_NAMES: dict[str, NameRule] = {
    "aws:iam/role:Role": NameRule("name", 64, what="IAM role name"),
    "aws:iam/policy:Policy": NameRule("name", 128, what="IAM policy name"),
    "aws:iam/rolePolicy:RolePolicy": NameRule("name", 128, what="IAM inline policy name"),
    "aws:elasticache/replicationGroup:ReplicationGroup": NameRule(
        "replicationGroupId", 40, pattern=_LOWER_ID, what="ElastiCache replication group id"
    ),
    "aws:rds/instance:Instance": NameRule(
        "identifier", 63, pattern=_LOWER_ID, what="RDS DB instance identifier"
    ),
    "aws:s3/bucket:Bucket": NameRule("bucket", 63, pattern=_BUCKET, what="S3 bucket name"),
    "aws:eks/cluster:Cluster": NameRule("name", 100, what="EKS cluster name"),
    "aws:eks/nodeGroup:NodeGroup": NameRule(
        "nodeGroupNamePrefix", 63 - PREFIX_SUFFIX, autonamed=False, what="EKS node group prefix"
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": NameRule("name", 128, what="launch template name"),
    "aws:rds/parameterGroup:ParameterGroup": NameRule("name", 255, what="DB parameter group"),
    "aws:rds/subnetGroup:SubnetGroup": NameRule("name", 255, what="DB subnet group"),
    "aws:elasticache/subnetGroup:SubnetGroup": NameRule("name", 255, what="cache subnet group"),
    "aws:ec2/securityGroup:SecurityGroup": NameRule("name", 255, what="security group name"),
    "aws:cloudwatch/logGroup:LogGroup": NameRule("name", 512, what="log group name"),
    "aws:secretsmanager/secret:Secret": NameRule("name", 512, what="secret name"),
    "aws:sns/topic:Topic": NameRule("name", 256, what="SNS topic name"),
    "aws:budgets/budget:Budget": NameRule("name", 100, what="budget name"),
    "aws:kms/alias:Alias": NameRule("name", 256, what="KMS alias"),
    "kubernetes:helm.sh/v3:Release": NameRule("name", 53, what="Helm release name"),
}
# Kubernetes objects whose name must be a DNS-1123 label (the rest: a subdomain).
K8S_LABEL_NAMED = {"Namespace", "Service"}


def _aws_name(r: RecordedResource, rule: NameRule) -> str | None:
    value = r.inputs.get(rule.field)
    if isinstance(value, str):
        return value
    if value is None and rule.autonamed:
        name = f"{r.name}-{'x' * (AWS_AUTONAME_SUFFIX - 1)}"
        return name.lower() if rule.pattern is not None else name
    return None


def _k8s_problems(r: RecordedResource) -> list[str]:
    kind = r.type.rsplit(":", 1)[-1]
    metadata = r.inputs.get("metadata")
    if not isinstance(metadata, dict):
        return []
    name = metadata.get("name")
    if not isinstance(name, str):
        name = f"{r.name}-{'x' * (K8S_AUTONAME_SUFFIX - 1)}"
    label = kind in K8S_LABEL_NAMED
    limit, pattern = (63, _DNS_LABEL) if label else (253, _DNS_SUBDOMAIN)
    problems = []
    if len(name) > limit or not pattern.match(name):
        shape = "DNS label" if label else "DNS subdomain"
        problems.append(
            f"names: {r.name} ({r.type}): {kind} name {name!r} is not a {shape} of at most"
            f" {limit} characters"
        )
    for key, value in (metadata.get("labels") or {}).items():
        if isinstance(value, str) and len(value) > 63:
            problems.append(f"names: {r.name}: label {key}={value!r} is longer than 63")
    return problems


def name_problems(graph: Sequence[RecordedResource]) -> list[str]:
    problems: list[str] = []
    for r in graph:
        rule = AWS_NAMES.get(r.type)
        if rule is None:
            if r.type.startswith("kubernetes:") and r.custom and "helm.sh" not in r.type:
                problems.extend(_k8s_problems(r))
            continue
        name = _aws_name(r, rule)
        if name is None:
            continue
        if len(name) > rule.limit:
            problems.append(
                f"names: {r.name} ({r.type}): {rule.what} {name!r} has {len(name)} characters,"
                f" the limit is {rule.limit}"
            )
        elif rule.pattern is not None and not rule.pattern.match(name):
            problems.append(f"names: {r.name} ({r.type}): {rule.what} {name!r} is not valid")
        # Bucket names are global across every AWS account: an explicit name needs a part
        # only this account has (autonamed buckets get a random suffix).
        explicit_bucket = r.type == "aws:s3/bucket:Bucket" and isinstance(
            r.inputs.get("bucket"), str
        )
        if explicit_bucket and ACCOUNT_ID not in name:
            problems.append(
                f"names: {r.name}: S3 bucket name {name!r} is not unique to this account"
                " (add the account id)"
            )
    return problems
