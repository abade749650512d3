"""kube-prometheus-stack, Loki and Promtail; alert rules and dashboards load from files here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from infra._k8s import namespace, release
from infra._util import irsa_trust_policy, policy_document
from infra.monitoring.values import (
    CLOUDWATCH_SERVICE_ACCOUNT,
    LOGGING_FILE,
    LOKI_SERVICE_ACCOUNT,
    POSTGRES_CREDENTIALS,
    POSTGRES_RDS_CA,
    REDIS_AUTH,
    cloudwatch_exporter_values,
    kube_prometheus_stack_values,
    load_logging,
    loki_values,
    postgres_exporter_values,
    promtail_values,
    redis_exporter_values,
)
from infra.monitoring_config import AlertReceivers, alertmanager_config, silent_alertmanager_config
from infra.service.env import RDS_CA_BUNDLE

HERE = Path(__file__).resolve().parent
NAMESPACE = "monitoring"
SECRETS_SERVICE_ACCOUNT = "monitoring-secrets"
STORE = "aws-secrets"
DATABASE_STORE = "aws-secrets-database"
ROUTE53_METRICS_REGION = "us-east-1"
RULES_DIR = HERE / "rules"  # PrometheusRule specs: *.yaml, each {groups: [...]}
DASHBOARDS_DIR = HERE / "dashboards"  # Grafana dashboards: *.json


@dataclass(frozen=True, kw_only=True)
class AlertingArgs:
    """Alertmanager receivers (see infra/monitoring_config.py); the URL and key are secrets."""

    slack_webhook_url: pulumi.Input[str]
    pagerduty_routing_key: pulumi.Input[str] | None = None
    warning_channel: str = "#utp-alerts"
    critical_channel: str = "#utp-incidents"
    runbook_base_url: str = ""


@dataclass(frozen=True, kw_only=True)
class PostgresTarget:
    """One RDS instance for postgres-exporter; credentials from its RDS-managed secret."""

    instance_id: pulumi.Input[str]  # the RDS identifier: the `instance` label of pg_* series
    host: pulumi.Input[str]
    database: str
    credentials_secret_arn: pulumi.Input[str]  # JSON with `username` and `password`
    credentials_region: str  # the managed secret lives with the primary


@dataclass(frozen=True, kw_only=True)
class RedisTarget:
    """One ElastiCache replication group for redis-exporter (TLS, auth token secret)."""

    replication_group_id: pulumi.Input[str]  # the `instance` label of redis_* series
    host: pulumi.Input[str]
    auth_secret_arn: pulumi.Input[str]  # plain-string secret in this region


@dataclass(frozen=True, kw_only=True)
class CloudWatchTargets:
    """What cloudwatch-exporter reads in this cluster's region."""

    rds_instance_ids: Sequence[pulumi.Input[str]] = ()
    # Route 53 publishes health-check metrics in us-east-1 only.
    route53_health_check_ids: Sequence[pulumi.Input[str]] = ()


@dataclass(frozen=True, kw_only=True)
class LogBucket:
    """Loki's object store: a versioned SSE-KMS bucket in this region (`Backups`, see
    stacks/program.py). Loki serves and keeps `logging.yaml`'s retention (30 days) there; what
    its compactor deletes stays as a noncurrent version until the bucket's lifecycle expires
    it, so the bucket holds the year-long archive."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    cluster_name: str
    # Loki's chunks and index; Loki reaches it as the `loki` service account (IRSA).
    logs: LogBucket
    region: str = "us-east-1"
    metrics_retention_days: int = 15
    prometheus_storage_gib: int = 50
    loki_storage_gib: int = 50
    rules_dir: Path = RULES_DIR
    dashboards_dir: Path = DASHBOARDS_DIR
    logging_file: Path = LOGGING_FILE
    # None: every alert goes to the null receiver (shown in Alertmanager/Grafana, never sent).
    alerting: AlertingArgs | None = None
    # The cluster's IRSA identity provider: Loki's and the exporters' roles trust it.
    oidc_provider_arn: pulumi.Input[str] | None = None
    oidc_issuer: pulumi.Input[str] | None = None
    postgres: PostgresTarget | None = None
    redis: RedisTarget | None = None
    cloudwatch: CloudWatchTargets | None = None
    # KMS keys that encrypt the secrets the exporters read.
    secrets_kms_key_arns: Sequence[pulumi.Input[str]] = ()


def load_rules(directory: Path) -> dict[str, dict[str, object]]:
    """PrometheusRule specs by file stem; a file must hold a mapping with `groups`."""
    rules: dict[str, dict[str, object]] = {}
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
            raise ValueError(f"{path}: expected a mapping with a `groups` list")
        rules[path.stem] = {"groups": doc["groups"]}
    return rules


def load_dashboards(directory: Path) -> dict[str, str]:
    """Dashboard JSON text by file stem (validated as JSON)."""
    dashboards: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        text = path.read_text()
        json.loads(text)
        dashboards[path.stem] = text
    return dashboards


class Monitoring(pulumi.ComponentResource):
    """Creates the `monitoring` namespace and, as pinned Helm releases: kube-prometheus-stack
    (Prometheus, node-exporter, kube-state-metrics, Alertmanager routed by
    `infra.monitoring_config`, Grafana with the Loki data source and a generated admin
    password), Loki (single binary, chunks and index in the `logs` bucket through an IRSA
    role, retention from `logging.yaml` applied by the compactor) and Promtail (the
    `logging.yaml` pipeline); one PrometheusRule per file in `rules/` and one dashboard
    ConfigMap per file in `dashboards/`. With targets: an IRSA
    SecretStore and ExternalSecrets for the exporters' credentials, postgres-exporter,
    redis-exporter, and cloudwatch-exporter with an IRSA role limited to reading metrics in
    this region; each exporter scraped through its ServiceMonitor.
    """

    alertmanager_config: pulumi.Output[dict[str, Any]]
    loki_role: aws.iam.Role
    cloudwatch_role: aws.iam.Role | None = None

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:monitoring:Monitoring", name, None, opts)
        if args.oidc_provider_arn is None or args.oidc_issuer is None:
            raise ValueError("Loki and the exporters need oidc_provider_arn and oidc_issuer (IRSA)")
        if (
            args.cloudwatch is not None
            and args.cloudwatch.route53_health_check_ids
            and args.region != ROUTE53_METRICS_REGION
        ):
            raise ValueError(
                f"Route 53 health-check metrics exist only in {ROUTE53_METRICS_REGION}"
            )
        self._name, self._args = name, args
        self._ns = namespace(NAMESPACE, f"{name}-ns", self, enforce="privileged")
        self._child = pulumi.ResourceOptions(parent=self, depends_on=[self._ns])
        logging = load_logging(args.logging_file)
        self.alertmanager_config = _alertmanager_config(args.alerting)
        admin = random.RandomPassword(
            f"{name}-grafana-admin", length=32, special=False, opts=self._child
        )
        admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": "grafana-admin", "namespace": self._ns.metadata.name},
            string_data={"admin-user": "admin", "admin-password": admin.result},
            opts=self._child,
        )
        stack = release(
            f"{name}-kube-prometheus-stack",
            "kube-prometheus-stack",
            self._ns,
            kube_prometheus_stack_values(
                cluster_name=args.cluster_name,
                metrics_retention_days=args.metrics_retention_days,
                prometheus_storage_gib=args.prometheus_storage_gib,
                alertmanager_config=self.alertmanager_config,
                loki_datasource=logging.datasource,
            ),
            self,
            depends_on=[admin_secret],
        )
        self.loki_role = self._loki_role(args.logs)
        loki = release(
            f"{name}-loki",
            "loki",
            self._ns,
            loki_values(
                logging,
                args.loki_storage_gib,
                bucket=args.logs.name,
                region=args.region,
                role_arn=self.loki_role.arn,
            ),
            self,
        )
        release(f"{name}-promtail", "promtail", self._ns, promtail_values(logging), self, [loki])
        self._create_rules_and_dashboards(stack)
        # The exporters' charts render their ServiceMonitor only once the CRD exists.
        secrets = self._create_secret_sources() if args.postgres or args.redis else []
        if args.postgres is not None:
            self._create_postgres_exporter(args.postgres, [stack, *secrets])
        if args.redis is not None:
            self._create_redis_exporter(args.redis, [stack, *secrets])
        if args.cloudwatch is not None:
            self._create_cloudwatch_exporter(args.cloudwatch, stack)
        self.register_outputs({"namespace": NAMESPACE})

    def _create_rules_and_dashboards(self, stack: k8s.helm.v3.Release) -> None:
        name, args = self._name, self._args
        rule_opts = pulumi.ResourceOptions(parent=self, depends_on=[stack])
        for stem, spec in load_rules(args.rules_dir).items():
            k8s.apiextensions.CustomResource(
                f"{name}-rule-{stem}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={"name": f"utp-{stem}", "namespace": NAMESPACE, "labels": {"app": "utp"}},
                spec=spec,
                opts=rule_opts,
            )
        for stem, text in load_dashboards(args.dashboards_dir).items():
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{stem}",
                metadata={
                    "name": f"utp-dashboard-{stem}",
                    "namespace": NAMESPACE,
                    "labels": {"grafana_dashboard": "1"},
                },
                data={f"{stem}.json": text},
                opts=self._child,
            )

    def _loki_role(self, logs: LogBucket) -> aws.iam.Role:
        """Loki's IRSA role: objects in its own bucket only, and no s3:DeleteObjectVersion, so
        the compactor's deletes leave the noncurrent versions the archive is made of (the
        bucket policy denies deleting versions to everyone as well)."""
        return self._irsa_role(
            "loki",
            LOKI_SERVICE_ACCOUNT,
            [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": logs.arn},
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": pulumi.Output.concat(logs.arn, "/*"),
                },
                {
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": logs.kms_key_arn,
                },
            ],
        )

    # -- exporters -------------------------------------------------------------------------

    def _irsa_role(
        self, suffix: str, service_account: str, statements: list[dict[str, Any]]
    ) -> aws.iam.Role:
        args = self._args
        assert args.oidc_provider_arn is not None and args.oidc_issuer is not None
        role = aws.iam.Role(
            f"{self._name}-{suffix}-role",
            assume_role_policy=irsa_trust_policy(
                args.oidc_provider_arn, args.oidc_issuer, NAMESPACE, service_account
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self._name}-{suffix}-policy",
            role=role.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role

    def _create_secret_sources(self) -> list[pulumi.Resource]:
        """A SecretStore per region the exporters' secrets live in, authenticated as the
        `monitoring-secrets` service account, whose role may read exactly those secrets."""
        name, args = self._name, self._args
        arns: list[pulumi.Input[str]] = []
        stores = {STORE: args.region}
        if args.postgres is not None:
            arns.append(args.postgres.credentials_secret_arn)
            if args.postgres.credentials_region != args.region:
                stores[DATABASE_STORE] = args.postgres.credentials_region
        if args.redis is not None:
            arns.append(args.redis.auth_secret_arn)
        statements: list[dict[str, Any]] = [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": arns,
            }
        ]
        if args.secrets_kms_key_arns:
            statements.append(
                {
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": list(args.secrets_kms_key_arns),
                }
            )
        role = self._irsa_role("secrets-reader", SECRETS_SERVICE_ACCOUNT, statements)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-secrets-sa",
            metadata={
                "name": SECRETS_SERVICE_ACCOUNT,
                "namespace": NAMESPACE,
                "annotations": {"eks.amazonaws.com/role-arn": role.arn},
            },
            opts=self._child,
        )
        return [
            k8s.apiextensions.CustomResource(
                f"{name}-{store}",
                api_version="external-secrets.io/v1",
                kind="SecretStore",
                metadata={"name": store, "namespace": NAMESPACE},
                spec={
                    "provider": {
                        "aws": {
                            "service": "SecretsManager",
                            "region": region,
                            "auth": {
                                "jwt": {"serviceAccountRef": {"name": SECRETS_SERVICE_ACCOUNT}}
                            },
                        }
                    }
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self._ns, account]),
            )
            for store, region in stores.items()
        ]

    def _external_secret(
        self,
        suffix: str,
        target: str,
        store: str,
        data: list[dict[str, Any]],
        after: list[pulumi.Resource],
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{suffix}",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata={"name": target, "namespace": NAMESPACE},
            spec={
                # The RDS-managed password rotates; pick up a new one within the hour.
                "refreshInterval": "1h",
                "secretStoreRef": {"name": store, "kind": "SecretStore"},
                "target": {"name": target, "creationPolicy": "Owner"},
                "data": data,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._ns, *after]),
        )

    def _create_postgres_exporter(
        self, target: PostgresTarget, after: list[pulumi.Resource]
    ) -> None:
        store = DATABASE_STORE if target.credentials_region != self._args.region else STORE
        credentials = self._external_secret(
            "postgres-exporter-credentials",
            POSTGRES_CREDENTIALS,
            store,
            [
                {
                    "secretKey": key,
                    "remoteRef": {"key": target.credentials_secret_arn, "property": key},
                }
                for key in ("username", "password")
            ],
            after,
        )
        ca = k8s.core.v1.ConfigMap(
            f"{self._name}-postgres-exporter-rds-ca",
            metadata={"name": POSTGRES_RDS_CA, "namespace": NAMESPACE},
            data={RDS_CA_BUNDLE.name: RDS_CA_BUNDLE.read_text()},
            opts=self._child,
        )
        release(
            f"{self._name}-postgres-exporter",
            "prometheus-postgres-exporter",
            self._ns,
            postgres_exporter_values(
                host=target.host,
                database=target.database,
                instance=target.instance_id,
                ca_file=RDS_CA_BUNDLE.name,
            ),
            self,
            depends_on=[*after, credentials, ca],
        )

    def _create_redis_exporter(self, target: RedisTarget, after: list[pulumi.Resource]) -> None:
        auth = self._external_secret(
            "redis-exporter-auth",
            REDIS_AUTH,
            STORE,
            [{"secretKey": "password", "remoteRef": {"key": target.auth_secret_arn}}],
            after,
        )
        release(
            f"{self._name}-redis-exporter",
            "prometheus-redis-exporter",
            self._ns,
            redis_exporter_values(host=target.host, instance=target.replication_group_id),
            self,
            depends_on=[*after, auth],
        )

    def _create_cloudwatch_exporter(
        self, targets: CloudWatchTargets, stack: k8s.helm.v3.Release
    ) -> None:
        region = self._args.region
        if targets.route53_health_check_ids and region != ROUTE53_METRICS_REGION:
            raise ValueError(
                f"Route 53 health-check metrics exist only in {ROUTE53_METRICS_REGION}"
            )
        # CloudWatch read APIs have no resource-level permissions: scope by action and region.
        role = self._irsa_role(
            "cloudwatch-exporter",
            CLOUDWATCH_SERVICE_ACCOUNT,
            [
                {
                    "Effect": "Allow",
                    "Action": ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
                }
            ],
        )
        self.cloudwatch_role = role
        release(
            f"{self._name}-cloudwatch-exporter",
            "prometheus-cloudwatch-exporter",
            self._ns,
            cloudwatch_exporter_values(
                region=region,
                role_arn=role.arn,
                rds_instance_ids=targets.rds_instance_ids,
                route53_health_check_ids=targets.route53_health_check_ids,
            ),
            self,
            depends_on=[stack],
        )


def _alertmanager_config(alerting: AlertingArgs | None) -> pulumi.Output[dict[str, Any]]:
    """The routing tree as an Output: secret whenever it holds a receiver's URL or key."""
    if alerting is None:
        return pulumi.Output.from_input(silent_alertmanager_config())

    def build(values: list[Any]) -> dict[str, Any]:
        return alertmanager_config(
            AlertReceivers(
                slack_webhook_url=values[0],
                pagerduty_routing_key=values[1] or None,
                warning_channel=alerting.warning_channel,
                critical_channel=alerting.critical_channel,
                runbook_base_url=alerting.runbook_base_url,
            )
        )

    config = pulumi.Output.all(alerting.slack_webhook_url, alerting.pagerduty_routing_key).apply(
        build
    )
    return pulumi.Output.secret(config)
