"""Every rule: the good stack passes it, and one mutated property trips exactly that rule."""

from __future__ import annotations

import json
import re

import pytest

from policies.enforcement import is_production_only
from policies.offline import check
from policies.rules import ALL
from tests.policies.factories import (
    AWS_EAST,
    STACK,
    Mutation,
    both,
    drop,
    good_stack,
    move,
    remove,
    set_,
    unprotect,
)

RULES = {rule.name: rule for rule in ALL}
POD = "spec.template.spec"
CTR = f"{POD}.containers.0"

CASES: list[tuple[str, Mutation, str]] = [
    # EKS
    ("aws-eks-secrets-encryption-cmk", drop("eks", "encryptionConfig.provider.keyArn"), "secrets"),
    (
        "aws-eks-private-endpoint",
        set_("eks", "vpcConfig.endpointPublicAccess", True),
        "open to the internet",
    ),
    (
        "aws-eks-private-endpoint",
        set_("eks", "vpcConfig.endpointPrivateAccess", False),
        "private API endpoint",
    ),
    ("aws-eks-control-plane-logging", set_("eks", "enabledClusterLogTypes", ["api"]), "audit"),
    ("aws-eks-supported-version", set_("eks", "version", "1.27"), "left EKS standard support"),
    (
        "aws-eks-supported-version",
        set_("eks", "version", "1.34"),
        "left EKS standard support on 2026-12-02; the oldest version in standard support on"
        " 2026-12-07 is 1.35",
    ),
    ("aws-eks-supported-version", drop("eks", "version"), "no Kubernetes version"),
    (
        "aws-eks-access-entries",
        set_("eks", "accessConfig.authenticationMode", "CONFIG_MAP"),
        "not API",
    ),
    ("aws-eks-nodegroup-launch-template", drop("nodes", "launchTemplate"), "launch template"),
    (
        "aws-eks-nodegroup-no-public-ssh",
        set_("nodes", "remoteAccess", {"ec2SshKey": "ops"}),
        "SSH is allowed from anywhere",
    ),
    ("aws-eks-nodegroup-multi-az", set_("nodes", "scalingConfig.minSize", 1), "minSize is 1"),
    ("aws-eks-nodegroup-multi-az", set_("nodes", "subnetIds", ["subnet-a"]), "fewer than 2"),
    (
        "aws-ec2-launch-template-imdsv2",
        set_("nodes-lt", "metadataOptions.httpTokens", "optional"),
        "IMDSv2",
    ),
    (
        "aws-ec2-launch-template-encrypted-volumes",
        set_("nodes-lt", "blockDeviceMappings.0.ebs.encrypted", "false"),
        "/dev/xvda is not encrypted",
    ),
    (
        "aws-eks-addon-version-pinned",
        drop("eks-pod-identity", "addonVersion"),
        "no pinned addonVersion",
    ),
    (
        "aws-eks-network-policy-enforced",
        set_("vpc-cni", "configurationValues", "{}"),
        "declared but not enforced",
    ),
    ("aws-eks-network-policy-enforced", remove("vpc-cni"), "declared but not enforced"),
    (
        "aws-eks-workload-identity",
        both(set_("eks-pod-identity", "addonName", "vpc-cni"), remove("eks-oidc")),
        "neither an IAM OIDC provider",
    ),
    # TLS
    (
        "k8s-database-url-verify-full",
        set_(
            "utp-env",
            "spec.target.template.data.UTP_DATABASE_URL",
            "postgresql+asyncpg://u:p@db:5432/utp?ssl=require",
        ),
        "without verify-full",
    ),
    (
        "k8s-database-credentials-as-files",
        set_(
            "translator",
            f"{CTR}.env.0",
            {
                "name": "UTP_DATABASE_URL",
                "valueFrom": {"secretKeyRef": {"name": "utp-env", "key": "UTP_DATABASE_URL"}},
            },
        ),
        "never re-reads",
    ),
    (
        "k8s-database-credentials-as-files",
        set_("translator", f"{CTR}.volumeMounts.0.subPath", "url"),
        "subPath",
    ),
    # Autoscaling
    ("k8s-hpa-metrics-server", remove("metrics-server"), "can never scale"),
    ("aws-eks-node-autoscaler", remove("cluster-autoscaler"), "run a node autoscaler"),
    (
        "aws-eks-nodegroup-multi-az",
        set_("nodes-spot", "capacityType", "ON_DEMAND"),
        "minSize is 0",
    ),
    # Maintenance and cost
    (
        "aws-maintenance-window-sunday-night",
        set_("db-primary", "maintenanceWindow", "sun:04:30-sun:05:30"),
        "outside Sunday 02:00-04:00",
    ),
    (
        "aws-maintenance-window-sunday-night",
        set_("redis", "maintenanceWindow", "sat:02:00-sat:03:00"),
        "outside Sunday",
    ),
    ("aws-maintenance-window-sunday-night", drop("redis", "maintenanceWindow"), "no maintenance"),
    ("aws-eks-standard-support", drop("eks", "upgradePolicy"), "EXTENDED by default"),
    (
        "aws-ec2-launch-template-cost-tags",
        set_("nodes-lt", "tagSpecifications.2.tags", {"Name": "node"}),
        "network-interfaces it launches are not tagged Project, Environment",
    ),
    # RDS
    ("aws-rds-storage-encrypted", set_("db-replica", "storageEncrypted", False), "not encrypted"),
    ("aws-rds-storage-encrypted", drop("db-primary", "kmsKeyId"), "customer-managed KMS key"),
    ("aws-rds-not-public", set_("db-primary", "publiclyAccessible", True), "publicly accessible"),
    ("aws-rds-multi-az", set_("db-primary", "multiAz", False), "single-AZ"),
    (
        "aws-rds-backup-retention",
        set_("db-primary", "backupRetentionPeriod", 1),
        "backup retention is 1 days",
    ),
    (
        "aws-rds-backup-retention",
        set_("db-replica", "backupRetentionPeriod", 0),
        "cannot be promoted",
    ),
    ("aws-rds-deletion-protection", set_("db-replica", "deletionProtection", False), "is off"),
    ("aws-rds-final-snapshot", set_("db-primary", "skipFinalSnapshot", True), "skipFinalSnapshot"),
    (
        "aws-rds-performance-insights-kms",
        drop("db-primary", "performanceInsightsKmsKeyId"),
        "Performance Insights data",
    ),
    (
        "aws-rds-performance-insights-kms",
        set_("db-replica", "performanceInsightsEnabled", False),
        "Performance Insights is off",
    ),
    ("aws-rds-enhanced-monitoring", set_("db-primary", "monitoringInterval", 0), "monitoring"),
    (
        "aws-rds-log-exports",
        set_("db-primary", "enabledCloudwatchLogsExports", ["upgrade"]),
        "postgresql log",
    ),
    ("aws-rds-force-ssl", set_("pg-usw2", "parameters.0.value", "0"), "rds.force_ssl is '0'"),
    ("aws-rds-force-ssl", drop("db-replica", "parameterGroupName"), "default parameter group"),
    (
        "aws-rds-master-password",
        set_("db-primary", "manageMasterUserPassword", True),
        "cannot create a read replica",
    ),
    ("aws-rds-master-password", drop("db-primary", "password"), "no master password"),
    ("aws-rds-postgres-16", set_("db-primary", "engineVersion", "15.7"), "not PostgreSQL 16"),
    ("aws-rds-cross-region-replica", remove("db-replica"), "no read replica in another region"),
    (
        "aws-rds-cross-region-replica",
        both(move("db-replica", AWS_EAST), move("pg-usw2", AWS_EAST)),
        "no read replica in another region",
    ),
    # ElastiCache
    (
        "aws-elasticache-at-rest-encryption-cmk",
        set_("redis", "atRestEncryptionEnabled", False),
        "encryption at rest is off",
    ),
    ("aws-elasticache-at-rest-encryption-cmk", drop("redis", "kmsKeyId"), "customer-managed"),
    (
        "aws-elasticache-transit-encryption-auth",
        set_("redis", "transitEncryptionMode", "preferred"),
        "plaintext clients",
    ),
    ("aws-elasticache-transit-encryption-auth", drop("redis", "authToken"), "not authenticated"),
    ("aws-elasticache-multi-az", set_("redis", "numCacheClusters", 1), "1 node(s)"),
    (
        "aws-elasticache-multi-az",
        set_("redis", "automaticFailoverEnabled", False),
        "automatic failover is off",
    ),
    ("aws-elasticache-snapshots", set_("redis", "snapshotRetentionLimit", 0), "snapshots are off"),
    (
        "aws-elasticache-log-delivery",
        drop("redis", "logDeliveryConfigurations.1"),
        "engine-log",
    ),
    # S3
    (
        "aws-s3-public-access-block",
        set_("backups-pab", "restrictPublicBuckets", False),
        "restrictPublicBuckets",
    ),
    ("aws-s3-public-access-block", remove("backups-pab"), "has no BucketPublicAccessBlock"),
    (
        "aws-s3-sse-kms",
        set_("backups-sse", "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm", "AES256"),
        "not encrypted with SSE-KMS",
    ),
    ("aws-s3-sse-kms", set_("backups-sse", "rules.0.bucketKeyEnabled", False), "bucket key"),
    ("aws-s3-sse-kms", remove("logs-use1-sse"), "no server-side encryption"),
    (
        "aws-s3-versioning",
        set_("backups-versioning", "versioningConfiguration.status", "Suspended"),
        "versioning is not enabled",
    ),
    (
        "aws-s3-tls-only",
        set_(
            "backups-policy",
            "policy",
            json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),
        ),
        "does not deny requests without TLS",
    ),
    ("aws-s3-tls-only", remove("backups-replica-policy"), "does not deny requests without TLS"),
    (
        "aws-s3-lifecycle",
        drop("backups-lifecycle", "rules.0.abortIncompleteMultipartUpload"),
        "multipart",
    ),
    ("aws-s3-lifecycle", drop("backups-lifecycle", "rules.0.transitions"), "tiered"),
    (
        "aws-s3-access-logging",
        set_("backups-replica-logging", "bucket", "some-other-bucket"),
        "access logging is off",
    ),
    (
        "aws-s3-cross-region-replication",
        remove("backups-replication"),
        "is not replicated to another region",
    ),
    (
        "aws-s3-cross-region-replication",
        drop("backups-replication", "rules.0.destination.encryptionConfiguration"),
        "destination-region KMS key",
    ),
    (
        "aws-s3-cross-region-replication",
        both(move("backups-replica", AWS_EAST), move("backups-replica-logging", AWS_EAST)),
        "within its own region",
    ),
    (
        "aws-s3-bucket-owner-enforced",
        set_("backups-ownership", "rule.objectOwnership", "ObjectWriter"),
        "ACLs are still enabled",
    ),
    # KMS
    ("aws-kms-key-rotation", set_("key-use1", "enableKeyRotation", False), "rotation is off"),
    ("aws-kms-deletion-window", set_("key-use1", "deletionWindowInDays", 7), "is 7"),
    # Network
    (
        "aws-ec2-no-public-admin-ports",
        both(set_("https-in", "fromPort", 22), set_("https-in", "toPort", 22)),
        "SSH (port 22)",
    ),
    (
        "aws-ec2-no-public-admin-ports",
        both(
            set_("https-in", "fromPort", 3000),
            set_("https-in", "toPort", 4000),
            set_("https-in", "cidrBlocks", []),
            set_("https-in", "ipv6CidrBlocks", ["::/0"]),
        ),
        "RDP (port 3389)",
    ),
    (
        "aws-ec2-no-public-data-ports",
        set_("db-sg", "ingress.0.cidrBlocks", ["0.0.0.0/0"]),
        "PostgreSQL (port 5432)",
    ),
    (
        "aws-ec2-no-public-data-ports",
        set_("redis-in", "cidrIpv4", "0.0.0.0/0"),
        "Redis (port 6379)",
    ),
    ("aws-ec2-vpc-flow-logs", remove("vpc-flow"), "has no flow log"),
    # Logs
    ("aws-logs-kms-encrypted", drop("flow-logs", "kmsKeyId"), "not encrypted"),
    ("aws-logs-retention", drop("flow-logs", "retentionInDays"), "kept forever"),
    (
        "k8s-loki-retention-archived",
        set_("loki", "values.loki.compactor.retention_enabled", False),
        "does not apply retention",
    ),
    (
        "k8s-loki-retention-archived",
        drop("loki", "values.loki.limits_config.retention_period"),
        "no retention period",
    ),
    (
        "k8s-loki-retention-archived",
        set_("loki", "values.loki.storage.type", "filesystem"),
        "not in the archived object store",
    ),
    # Route 53
    (
        "aws-route53-failover-primary-health-check",
        drop("api-primary", "healthCheckId"),
        "has no health check",
    ),
    (
        "aws-route53-failover-primary-health-check",
        set_("api-primary", "failoverRoutingPolicies.0.type", "SECONDARY"),
        "has no PRIMARY",
    ),
    ("aws-route53-failover-secondary", remove("api-secondary"), "has no SECONDARY"),
    ("aws-route53-health-check-https", set_("api-health", "type", "HTTP"), "not HTTPS"),
    # Kubernetes
    (
        "k8s-pod-run-as-non-root",
        set_("translator", f"{POD}.securityContext.runAsNonRoot", False),
        "runAsNonRoot is not set",
    ),
    (
        "k8s-pod-run-as-non-root",
        set_("translator", f"{CTR}.securityContext.runAsUser", 0),
        "runs as UID 0",
    ),
    (
        "k8s-pod-no-privilege-escalation",
        drop("translator", f"{CTR}.securityContext.allowPrivilegeEscalation"),
        "allowPrivilegeEscalation",
    ),
    (
        "k8s-pod-not-privileged",
        set_("translator", f"{CTR}.securityContext.privileged", True),
        "runs privileged",
    ),
    ("k8s-pod-not-privileged", set_("translator", f"{POD}.hostNetwork", True), "hostNetwork"),
    (
        "k8s-pod-read-only-root-fs",
        set_("translator", f"{CTR}.securityContext.readOnlyRootFilesystem", False),
        "root filesystem is writable",
    ),
    (
        "k8s-pod-drop-all-capabilities",
        set_(
            "backup",
            "spec.jobTemplate.spec.template.spec.containers.0.securityContext.capabilities.drop",
            ["NET_RAW"],
        ),
        "drop: [ALL]",
    ),
    (
        "k8s-pod-seccomp-runtime-default",
        drop("translator", f"{POD}.securityContext.seccompProfile"),
        "Unconfined",
    ),
    ("k8s-pod-probes", drop("translator", f"{CTR}.readinessProbe"), "no readinessProbe"),
    ("k8s-pod-resources", drop("translator", f"{CTR}.resources.limits"), "limits.memory"),
    (
        "k8s-pod-resources",
        drop("backup", "spec.jobTemplate.spec.template.spec.containers.0.resources.requests"),
        "requests.cpu",
    ),
    ("k8s-pod-pinned-image", set_("translator", f"{CTR}.image", "utp:latest"), ":latest"),
    ("k8s-pod-pinned-image", set_("translator", f"{CTR}.image", "ghcr.io/x/utp"), "untagged"),
    ("k8s-no-default-namespace", drop("translator-svc", "metadata.namespace"), "`default`"),
    ("k8s-hpa-bounds", set_("translator-hpa", "spec.minReplicas", 1), "minReplicas is 1"),
    ("k8s-hpa-bounds", set_("translator-hpa", "spec.maxReplicas", 50), "maxReplicas is 50"),
    (
        "k8s-pdb-not-blocking",
        both(
            drop("translator-pdb", "spec.minAvailable"),
            set_("translator-pdb", "spec.maxUnavailable", 0),
        ),
        "maxUnavailable is 0",
    ),
    (
        "k8s-no-load-balancer-service",
        set_("translator-svc", "spec.type", "LoadBalancer"),
        "LoadBalancer Service",
    ),
    ("k8s-pdb-per-deployment", remove("translator-pdb"), "no PodDisruptionBudget"),
    (
        "k8s-pdb-per-deployment",
        set_("translator-pdb", "spec.selector.matchLabels", {"app": "other"}),
        "no PodDisruptionBudget",
    ),
    ("k8s-namespace-default-deny", remove("default-deny"), "Ingress and Egress"),
    (
        "k8s-namespace-default-deny",
        set_("default-deny", "spec.policyTypes", ["Ingress"]),
        "for Egress",
    ),
    ("k8s-namespace-resource-quota", remove("quota"), "has no ResourceQuota"),
    # Audit and detection
    ("aws-cloudtrail-multi-region", remove("trail"), "The stack has no CloudTrail trail"),
    ("aws-cloudtrail-multi-region", set_("trail", "isMultiRegionTrail", False), "multi-region"),
    ("aws-cloudtrail-multi-region", drop("trail", "kmsKeyId"), "not encrypted with a KMS key"),
    (
        "aws-cloudtrail-multi-region",
        set_("trail", "enableLogFileValidation", False),
        "does not validate log files",
    ),
    (
        "aws-guardduty-eks-protection",
        remove("guardduty-usw2"),
        "No enabled GuardDuty detector in us-west-2",
    ),
    (
        "aws-guardduty-eks-protection",
        set_("guardduty-use1-runtime_monitoring", "status", "DISABLED"),
        "lacks EKS protection: RUNTIME_MONITORING not enabled",
    ),
    ("aws-config-recorder", remove("config-usw2"), "No AWS Config recorder in us-west-2"),
    ("aws-config-recorder", set_("config-use1-status", "isEnabled", False), "never started"),
    (
        "aws-config-recorder",
        remove("config-usw2-delivery"),
        "No AWS Config delivery channel to S3 in us-west-2",
    ),
    # Edge
    (
        "aws-waf-on-public-load-balancers",
        remove("waf-alb"),
        "faces the internet without a WAF web ACL",
    ),
    (
        "aws-waf-on-public-load-balancers",
        drop("waf", "rules.0"),
        "has no rate-based rule",
    ),
    (
        "edge-metrics-not-public",
        drop("waf", "rules.2"),
        "lets /metrics through from the internet",
    ),
    (
        "edge-metrics-not-public",
        set_("waf", "rules.2.statement.byteMatchStatement.positionalConstraint", "EXACTLY"),
        "lets /metrics through from the internet",
    ),
    (
        "edge-metrics-not-public",
        remove("translator-ingress-metrics"),
        "Ingress 'translator-ingress' routes /metrics on host 'api.example.com' to its backend",
    ),
    (
        "edge-metrics-not-public",
        set_(
            "translator-ingress-metrics",
            "metadata.annotations",
            {"traefik.ingress.kubernetes.io/router.middlewares": "rate-limit@kubernetescrd"},
        ),
        "Ingress 'translator-ingress-metrics' routes /metrics on host 'use1.api.example.com'",
    ),
    # Cost allocation
    (
        "aws-cost-allocation-component-tag",
        drop("key-use1", "tags.utp:component"),
        "has no utp:component tag",
    ),
    # Pulumi options
    ("pulumi-stateful-resources-protected", unprotect("db-primary"), "protect=True"),
]


def _case_ids() -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for rule, _, _ in CASES:
        seen[rule] = seen.get(rule, 0) + 1
        ids.append(f"{rule}-{seen[rule]}")
    return ids


def expected_level(rule_name: str) -> str:
    """On production, production-only rules are mandatory; others keep their own level."""
    rule = RULES[rule_name]
    return "mandatory" if is_production_only(rule) else str(rule.enforcement_level.value)


def test_good_stack_violates_nothing() -> None:
    report = check(good_stack(), STACK)
    assert report.violations == ()
    assert report.exit_code == 0


@pytest.mark.parametrize("rule", sorted(RULES))
def test_compliant_fixture_passes(rule: str) -> None:
    report = check(good_stack(), STACK, policies=[RULES[rule]])
    assert report.rules_loaded == 1
    assert report.violations == ()


@pytest.mark.parametrize(("rule", "mutation", "expected"), CASES, ids=_case_ids())
def test_mutation_violates_exactly_its_rule(rule: str, mutation: Mutation, expected: str) -> None:
    report = check(mutation(good_stack()), STACK)

    assert report.rules_violated() == {rule}, report.to_text()
    messages = [v.message for v in report.violations]
    assert any(expected in m for m in messages), messages
    assert all(" Fix: " in m for m in messages), "every violation carries a remediation hint"
    assert all(v.urn and v.urn.startswith("urn:pulumi:") for v in report.violations)
    assert {v.level for v in report.violations} == {expected_level(rule)}
    assert report.exit_code == (1 if expected_level(rule) == "mandatory" else 0)


def test_every_rule_has_a_violating_fixture() -> None:
    assert {rule for rule, _, _ in CASES} == set(RULES)


def test_pack_has_at_least_40_well_formed_rules() -> None:
    names = [rule.name for rule in ALL]
    assert len(names) >= 40
    assert len(set(names)) == len(names), "rule names must be unique"
    for rule in ALL:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.name), rule.name
        assert rule.description.strip().endswith("."), rule.name
        assert rule.enforcement_level is not None, rule.name
        assert rule.enforcement_level.value in ("mandatory", "advisory"), rule.name
        assert rule.remediation_steps, rule.name


def test_access_log_bucket_may_use_sse_s3_but_other_buckets_may_not() -> None:
    # S3 delivers server access logs only into SSE-S3 buckets, so the log target is exempt.
    to_aes = set_(
        "logs-use1-sse", "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm", "AES256"
    )
    report = check(to_aes(good_stack()), STACK, policies=[RULES["aws-s3-sse-kms"]])
    assert report.mandatory == []
    no_logging = remove_all_logging(to_aes(good_stack()))
    report = check(no_logging, STACK, policies=[RULES["aws-s3-sse-kms"]])
    assert [v.rule for v in report.mandatory] == ["aws-s3-sse-kms"]


def remove_all_logging(resources):  # type: ignore[no-untyped-def]
    return [r for r in resources if "bucketLogging" not in r.type]
