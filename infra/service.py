"""The translation service on one cluster: workload, autoscaling, isolation, secrets, jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra._k8s import RESTRICTED_CONTAINER, namespace
from infra._util import irsa_trust_policy, policy_document

PORT = 8000
BACKUP_METRICS_PORT = 9108
BACKUP_METRICS_PATH = "/metrics.txt"
BACKUP_METRICS_SA = "utp-backup-metrics"
# `utp health-check --format prometheus` every minute into a shared emptyDir, replacing the
# file only when the output is complete (degraded/down exit non-zero but still report).
# `sleep & wait` lets the TERM trap run at once instead of after the sleep.
_CHECK_LOOP = f"""trap 'exit 0' TERM INT
out=/metrics{BACKUP_METRICS_PATH}
while true; do
  utp health-check --format prometheus --retries 1 --timeout 10 > /metrics/.next
  if grep -q '^utp_health_status ' /metrics/.next; then mv -f /metrics/.next "$out"; fi
  sleep 60 & wait $!
done"""
# Fresh within 5 minutes: the loop is alive and its checks finish.
_CHECK_FRESH = f'test -n "$(find /metrics{BACKUP_METRICS_PATH} -mmin -5 2>/dev/null)"'
PROVIDERS: tuple[str, ...] = ("deepl", "google", "openai", "anthropic")


@dataclass(frozen=True)
class EnvSource:
    """Where one environment variable comes from: the ConfigMap or the synced Secret."""

    kind: Literal["config", "secret"]
    optional: bool = False


# The one mapping of the service's environment (names are `service.settings` variables).
ENV_VARS: dict[str, EnvSource] = {
    "UTP_ENVIRONMENT": EnvSource("config"),
    "UTP_HOST": EnvSource("config"),
    "UTP_PORT": EnvSource("config"),
    "UTP_WORKERS": EnvSource("config"),
    "UTP_LOG_LEVEL": EnvSource("config"),
    "UTP_DATA_DIR": EnvSource("config"),
    "UTP_DATABASE_POOL_SIZE": EnvSource("config"),
    "UTP_DATABASE_URL": EnvSource("secret"),
    "UTP_REDIS_URL": EnvSource("secret"),
    "UTP_SECRET_KEY": EnvSource("secret"),
    "UTP_ENCRYPTION_KEY": EnvSource("secret"),
    # Provider keys are optional: a provider without a key is simply not offered.
    **{f"UTP_{p.upper()}_API_KEY": EnvSource("secret", optional=True) for p in PROVIDERS},
}


@dataclass(frozen=True, kw_only=True)
class TranslatorServiceArgs:
    region: str
    image_repository: pulumi.Input[str]
    image_tag: str
    hostname: str
    regional_hostname: str
    cluster_issuer: str
    vpc_cidr: str
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    # Secrets Manager sources (ARNs), all readable in `region` unless said otherwise.
    database_secret_arn: pulumi.Input[str]
    database_secret_region: str
    database_host: pulumi.Input[str]
    database_name: str
    redis_host: pulumi.Input[str]
    redis_secret_arn: pulumi.Input[str]
    secret_key_arn: pulumi.Input[str]
    encryption_key_arn: pulumi.Input[str]
    provider_key_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    kms_key_arns: Sequence[pulumi.Input[str]] = ()
    min_replicas: int = 2
    max_replicas: int = 10
    cpu_request: str = "250m"
    cpu_limit: str = "1"
    memory_request: str = "512Mi"
    memory_limit: str = "1Gi"
    log_level: str = "INFO"
    # The primary runs migrations before each rollout; a replica-backed DR copy cannot.
    run_migrations: bool = True
    backup_bucket: pulumi.Input[str] | None = None
    backup_role_arn: pulumi.Input[str] | None = None
    backup_schedule: str = "0 */6 * * *"
    namespace: str = "utp"
    backup_service_account: str = "utp-backup"


class TranslatorService(pulumi.ComponentResource):
    """Creates the app namespace (restricted Pod Security), ResourceQuota and LimitRange,
    default-deny NetworkPolicies with explicit allows (Traefik and Prometheus in; DNS, the
    VPC's PostgreSQL and Redis, HTTPS out), an IRSA-backed SecretStore and an ExternalSecret
    that assembles the database URL (from the RDS-managed secret), Redis URL, signing key and
    provider keys, a ConfigMap, a migration Job (`utp db upgrade`) the Deployment waits for,
    the hardened Deployment with probes, Service, ServiceMonitor, TLS Ingress, HPA (CPU and
    memory), PDB (minAvailable 1) and, with a backup bucket, a backup CronJob plus the
    backup-metrics Deployment (Service, ServiceMonitor, PDB, NetworkPolicies, an IRSA role that
    may only list the bucket) exporting `utp_backup_last_success_timestamp_seconds` read from
    the bucket.
    """

    def __init__(
        self, name: str, args: TranslatorServiceArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("utp:service:TranslatorService", name, None, opts)
        if not 2 <= args.min_replicas <= args.max_replicas:
            raise ValueError("need 2 <= min_replicas <= max_replicas")
        if args.image_tag in ("", "latest"):
            raise ValueError("the image tag must be pinned")
        unknown = set(args.provider_key_arns) - set(PROVIDERS)
        if unknown:
            raise ValueError(f"unknown providers: {sorted(unknown)}")
        self._name, self._args = name, args
        ns_name = args.namespace
        self.ns = namespace(ns_name, f"{name}-ns", self)
        self._child = pulumi.ResourceOptions(parent=self, depends_on=[self.ns])
        self.labels = {"app.kubernetes.io/name": "utp", "app.kubernetes.io/component": "api"}
        self.image = pulumi.Output.concat(args.image_repository, ":", args.image_tag)
        self._create_guardrails()
        self._create_network_policies()
        secret = self._create_secrets()
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": "utp-config", "namespace": ns_name},
            data={
                "UTP_ENVIRONMENT": "production",
                "UTP_HOST": "0.0.0.0",  # noqa: S104 - inside the pod; NetworkPolicies gate it
                "UTP_PORT": str(PORT),
                "UTP_WORKERS": "1",
                "UTP_LOG_LEVEL": args.log_level,
                "UTP_DATA_DIR": "/var/lib/utp",
                "UTP_DATABASE_POOL_SIZE": "10",
            },
            opts=self._child,
        )
        app_sa = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={"name": "utp", "namespace": ns_name},
            automount_service_account_token=False,
            opts=self._child,
        )
        waits: list[pulumi.Resource] = [config, secret, app_sa]
        if args.run_migrations:
            waits.append(self._create_migration_job([config, secret]))
        self.deployment = self._create_deployment(waits)
        self._create_exposure()
        if args.backup_bucket is not None and args.backup_role_arn is not None:
            self._create_backup_cronjob(args.backup_bucket, args.backup_role_arn, [config, secret])
            self._create_backup_metrics(args.backup_bucket)
        self.register_outputs({"namespace": ns_name, "image": self.image})

    # -- pod shape -------------------------------------------------------------------------

    def env(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for var, source in ENV_VARS.items():
            ref: dict[str, Any]
            if source.kind == "config":
                ref = {"configMapKeyRef": {"name": "utp-config", "key": var}}
            else:
                ref = {"secretKeyRef": {"name": "utp-env", "key": var, "optional": source.optional}}
            out.append({"name": var, "valueFrom": ref})
        return out

    def _container(self, name: str, command: list[str] | None = None) -> dict[str, Any]:
        a = self._args
        container: dict[str, Any] = {
            "name": name,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "env": self.env(),
            "securityContext": RESTRICTED_CONTAINER,
            "resources": {
                "requests": {"cpu": a.cpu_request, "memory": a.memory_request},
                "limits": {"cpu": a.cpu_limit, "memory": a.memory_limit},
            },
            "volumeMounts": [
                {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir
                {"name": "data", "mountPath": "/var/lib/utp"},
            ],
        }
        if command:
            container["command"] = command
        return container

    def _pod_spec(self, containers: list[dict[str, Any]], sa: str, **extra: Any) -> dict[str, Any]:
        return {
            "serviceAccountName": sa,
            "automountServiceAccountToken": sa != "utp",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": containers,
            "volumes": [
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            ],
            **extra,
        }

    # -- resources -------------------------------------------------------------------------

    def _create_guardrails(self) -> None:
        ns, a = self._args.namespace, self._args
        k8s.core.v1.ResourceQuota(
            f"{self._name}-quota",
            metadata={"name": "utp-quota", "namespace": ns},
            spec={
                "hard": {
                    "requests.cpu": "16",
                    "requests.memory": "32Gi",
                    "limits.cpu": "32",
                    "limits.memory": "64Gi",
                    "pods": str(a.max_replicas * 2 + 10),
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                }
            },
            opts=self._child,
        )
        k8s.core.v1.LimitRange(
            f"{self._name}-limits",
            metadata={"name": "utp-limits", "namespace": ns},
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m", "memory": "512Mi"},
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "max": {"cpu": "4", "memory": "8Gi"},
                    }
                ]
            },
            opts=self._child,
        )

    def _create_network_policies(self) -> None:
        ns, a = self._args.namespace, self._args

        def policy(suffix: str, spec: dict[str, Any]) -> None:
            k8s.networking.v1.NetworkPolicy(
                f"{self._name}-netpol-{suffix}",
                metadata={"name": suffix, "namespace": ns},
                spec=spec,
                opts=self._child,
            )

        def from_ns(name: str) -> dict[str, Any]:
            return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
        policy(
            "allow-ingress-traefik",
            {
                "podSelector": {"matchLabels": self.labels},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [from_ns("traefik"), from_ns("monitoring")],
                        "ports": [{"protocol": "TCP", "port": PORT}],
                    }
                ],
            },
        )
        policy(
            "allow-egress-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                **from_ns("kube-system"),
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        )
        policy(
            "allow-egress-data",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"ipBlock": {"cidr": a.vpc_cidr}}],
                        "ports": [
                            {"protocol": "TCP", "port": 5432},
                            {"protocol": "TCP", "port": 6379},
                        ],
                    }
                ],
            },
        )
        policy(
            "allow-egress-https",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        # Provider APIs, S3 and STS; the metadata endpoint stays unreachable.
                        "to": [
                            {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}
                        ],
                        "ports": [{"protocol": "TCP", "port": 443}],
                    }
                ],
            },
        )

    def _create_secrets(self) -> k8s.apiextensions.CustomResource:
        name, a, ns = self._name, self._args, self._args.namespace
        sources: list[pulumi.Input[str]] = [
            a.database_secret_arn,
            a.redis_secret_arn,
            a.secret_key_arn,
            a.encryption_key_arn,
            *a.provider_key_arns.values(),
        ]
        role = aws.iam.Role(
            f"{name}-secrets-reader-role",
            assume_role_policy=irsa_trust_policy(
                a.oidc_provider_arn, a.oidc_issuer, ns, "utp-secrets"
            ),
            opts=pulumi.ResourceOptions(parent=self),
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
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.core.v1.ServiceAccount(
            f"{name}-secrets-sa",
            metadata={
                "name": "utp-secrets",
                "namespace": ns,
                "annotations": {"eks.amazonaws.com/role-arn": role.arn},
            },
            opts=self._child,
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
                opts=self._child,
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
                f":5432/{a.database_name}?ssl=require",
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
                # The RDS-managed password rotates; pick up a new one within the hour.
                "refreshInterval": "1h",
                "secretStoreRef": {"name": "aws-secrets", "kind": "SecretStore"},
                "target": {
                    "name": "utp-env",
                    "creationPolicy": "Owner",
                    "template": {"engineVersion": "v2", "data": template},
                },
                "data": data,
            },
            opts=self._child,
        )

    def _create_migration_job(self, after: list[pulumi.Resource]) -> k8s.batch.v1.Job:
        a = self._args
        return k8s.batch.v1.Job(
            f"{self._name}-migrate",
            metadata={
                # One Job per image tag: a new release runs its migrations once, before rollout.
                "name": f"utp-migrate-{a.image_tag.replace('.', '-').replace('_', '-')}"[:63],
                "namespace": a.namespace,
                "labels": {**self.labels, "app.kubernetes.io/component": "migrate"},
            },
            spec={
                "backoffLimit": 2,
                "activeDeadlineSeconds": 900,
                "template": {
                    "metadata": {
                        "labels": {**self.labels, "app.kubernetes.io/component": "migrate"}
                    },
                    "spec": self._pod_spec(
                        [self._container("migrate", ["utp", "db", "upgrade"])],
                        "utp",
                        restartPolicy="Never",
                    ),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ns, *after]),
        )

    def _create_deployment(self, after: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        a = self._args
        container = self._container("api")
        container["ports"] = [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
        probe = {"httpGet": {"port": "http"}, "periodSeconds": 10, "timeoutSeconds": 3}
        container["livenessProbe"] = {
            **probe,
            "httpGet": {"path": "/health/live", "port": "http"},
            "failureThreshold": 3,
        }
        container["readinessProbe"] = {
            **probe,
            "httpGet": {"path": "/health/ready", "port": "http"},
            "failureThreshold": 2,
        }
        container["startupProbe"] = {
            **probe,
            "httpGet": {"path": "/health/live", "port": "http"},
            "failureThreshold": 30,
        }
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata={"name": "utp", "namespace": a.namespace, "labels": self.labels},
            spec={
                # No replicas field: the HPA owns the count (min 2).
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": self.labels},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
                },
                "template": {
                    "metadata": {"labels": self.labels},
                    "spec": self._pod_spec(
                        [container],
                        "utp",
                        terminationGracePeriodSeconds=30,
                        topologySpreadConstraints=[
                            {
                                "maxSkew": 1,
                                "topologyKey": key,
                                "whenUnsatisfiable": "ScheduleAnyway",
                                "labelSelector": {"matchLabels": self.labels},
                            }
                            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
                        ],
                    ),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ns, *after]),
        )

    def _create_exposure(self) -> None:
        a, name, ns = self._args, self._name, self._args.namespace
        k8s.core.v1.Service(
            f"{name}-svc",
            metadata={"name": "utp", "namespace": ns, "labels": self.labels},
            spec={
                "type": "ClusterIP",
                "selector": self.labels,
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=self._child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": "utp", "namespace": ns},
            spec={
                "selector": {"matchLabels": self.labels},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
            },
            opts=self._child,
        )
        hosts = [a.hostname, a.regional_hostname]
        k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={
                "name": "utp",
                "namespace": ns,
                "annotations": {
                    "cert-manager.io/cluster-issuer": a.cluster_issuer,
                    "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
                    "traefik.ingress.kubernetes.io/router.tls": "true",
                },
            },
            spec={
                "ingressClassName": "traefik",
                "tls": [{"hosts": hosts, "secretName": "utp-tls"}],
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "utp", "port": {"name": "http"}}
                                    },
                                }
                            ]
                        },
                    }
                    for host in hosts
                ],
            },
            opts=self._child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"name": "utp", "namespace": ns},
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "utp"},
                "minReplicas": a.min_replicas,
                "maxReplicas": a.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": resource,
                            "target": {"type": "Utilization", "averageUtilization": target},
                        },
                    }
                    for resource, target in (("cpu", 70), ("memory", 80))
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": "utp", "namespace": ns},
            # minAvailable, never maxUnavailable 0: node drains must stay possible.
            spec={"minAvailable": 1, "selector": {"matchLabels": self.labels}},
            opts=self._child,
        )

    def _create_backup_cronjob(
        self,
        bucket: pulumi.Input[str],
        role_arn: pulumi.Input[str],
        after: list[pulumi.Resource],
    ) -> None:
        a, name = self._args, self._name
        k8s.core.v1.ServiceAccount(
            f"{name}-backup-sa",
            metadata={
                "name": a.backup_service_account,
                "namespace": a.namespace,
                "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            },
            opts=self._child,
        )
        container = self._container("backup")
        # `utp backup` (service/ops): pg_dump -> <data_dir>/backups -> S3 with SSE-KMS (the
        # bucket's default CMK), manifest last.
        container["command"] = ["utp", "backup", "--type", "database"]
        container["env"] = [
            *container["env"],
            {"name": "AWS_REGION", "value": a.region},
            {"name": "UTP_BACKUP_BUCKET", "value": bucket},
            {"name": "UTP_BACKUP_S3_REGION", "value": a.region},
        ]
        labels = {**self.labels, "app.kubernetes.io/component": "backup"}
        k8s.batch.v1.CronJob(
            f"{name}-backup",
            metadata={"name": "utp-backup", "namespace": a.namespace, "labels": labels},
            spec={
                "schedule": a.backup_schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": 3600,
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": self._pod_spec(
                                [container], a.backup_service_account, restartPolicy="Never"
                            ),
                        },
                    }
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ns, *after]),
        )

    def _create_backup_metrics(self, bucket: pulumi.Input[str]) -> None:
        """The backup CronJob cannot reach node-exporter's textfile directory (a hostPath,
        refused by restricted Pod Security), so Prometheus scrapes the bucket's own view:
        `utp health-check --format prometheus` (newest manifest.json in the bucket, plus the
        service's live/ready/breaker state) written every minute and served as a file."""
        a, name, ns = self._args, self._name, self._args.namespace
        labels = {**self.labels, "app.kubernetes.io/component": "backup-metrics"}
        role = aws.iam.Role(
            f"{name}-backup-metrics-role",
            assume_role_policy=irsa_trust_policy(
                a.oidc_provider_arn, a.oidc_issuer, ns, BACKUP_METRICS_SA
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Listing is all the check needs: the manifests' LastModified, never their content.
        aws.iam.RolePolicy(
            f"{name}-backup-metrics-policy",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": pulumi.Output.concat("arn:aws:s3:::", bucket),
                    }
                ]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-backup-metrics-sa",
            metadata={
                "name": BACKUP_METRICS_SA,
                "namespace": ns,
                "annotations": {"eks.amazonaws.com/role-arn": role.arn},
            },
            opts=self._child,
        )
        volume = {"name": "metrics", "mountPath": "/metrics"}
        fresh = {"exec": {"command": ["sh", "-c", _CHECK_FRESH]}, "periodSeconds": 60}
        check: dict[str, Any] = {
            "name": "check",
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", _CHECK_LOOP],
            # Only what the check reads: no database, Redis or provider secrets.
            "env": [
                {"name": "UTP_HEALTH_CHECK_URL", "value": f"http://utp.{ns}.svc.cluster.local"},
                {"name": "UTP_BACKUP_BUCKET", "value": bucket},
                {"name": "UTP_BACKUP_S3_REGION", "value": a.region},
                {"name": "AWS_REGION", "value": a.region},
                {"name": "UTP_DATA_DIR", "value": "/var/lib/utp"},
            ],
            "securityContext": RESTRICTED_CONTAINER,
            "resources": {
                "requests": {"cpu": "20m", "memory": "128Mi"},
                "limits": {"cpu": "500m", "memory": "256Mi"},
            },
            "volumeMounts": [
                {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir
                {"name": "data", "mountPath": "/var/lib/utp"},
                volume,
            ],
            "startupProbe": {**fresh, "periodSeconds": 10, "failureThreshold": 30},
            "livenessProbe": {**fresh, "failureThreshold": 3},
            "readinessProbe": fresh,
        }
        http = {"httpGet": {"path": BACKUP_METRICS_PATH, "port": "metrics"}, "periodSeconds": 30}
        serve: dict[str, Any] = {
            "name": "serve",
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": [
                "python",
                "-m",
                "http.server",
                str(BACKUP_METRICS_PORT),
                "--directory",
                "/metrics",
            ],
            "ports": [{"name": "metrics", "containerPort": BACKUP_METRICS_PORT, "protocol": "TCP"}],
            "securityContext": RESTRICTED_CONTAINER,
            "resources": {
                "requests": {"cpu": "10m", "memory": "48Mi"},
                "limits": {"cpu": "200m", "memory": "128Mi"},
            },
            "volumeMounts": [{**volume, "readOnly": True}],
            "livenessProbe": {"tcpSocket": {"port": "metrics"}, "periodSeconds": 30},
            "readinessProbe": http,
        }
        spec = self._pod_spec([check, serve], BACKUP_METRICS_SA, terminationGracePeriodSeconds=10)
        spec["volumes"] = [*spec["volumes"], {"name": "metrics", "emptyDir": {"sizeLimit": "8Mi"}}]
        k8s.apps.v1.Deployment(
            f"{name}-backup-metrics",
            metadata={"name": "utp-backup-metrics", "namespace": ns, "labels": labels},
            spec={
                # One copy is enough: a gap of a few minutes is far below the 26 h threshold.
                "replicas": 1,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": spec},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ns, account]),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-backup-metrics-pdb",
            metadata={"name": "utp-backup-metrics", "namespace": ns},
            # A single replica must stay evictable, or it would block every node drain.
            spec={"maxUnavailable": 1, "selector": {"matchLabels": labels}},
            opts=self._child,
        )
        k8s.core.v1.Service(
            f"{name}-backup-metrics-svc",
            metadata={"name": "utp-backup-metrics", "namespace": ns, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": labels,
                "ports": [
                    {
                        "name": "metrics",
                        "port": BACKUP_METRICS_PORT,
                        "targetPort": "metrics",
                        "protocol": "TCP",
                    }
                ],
            },
            opts=self._child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-backup-metrics-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": "utp-backup-metrics", "namespace": ns},
            spec={
                "selector": {"matchLabels": labels},
                # http.server names a .txt file text/plain; Prometheus 3 needs a declared
                # format for anything else, so say which one it is.
                "fallbackScrapeProtocol": "PrometheusText0.0.4",
                "endpoints": [{"port": "metrics", "path": BACKUP_METRICS_PATH, "interval": "60s"}],
            },
            opts=self._child,
        )
        self._allow_backup_metrics_traffic(labels)

    def _allow_backup_metrics_traffic(self, labels: Mapping[str, str]) -> None:
        """Prometheus in to the exporter; the exporter out to, and into, the API pods."""
        name, ns = self._name, self._args.namespace
        monitoring = {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
        }
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol-backup-metrics",
            metadata={"name": "allow-backup-metrics", "namespace": ns},
            spec={
                "podSelector": {"matchLabels": dict(labels)},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [monitoring],
                        "ports": [{"protocol": "TCP", "port": BACKUP_METRICS_PORT}],
                    }
                ],
                "egress": [
                    {
                        "to": [{"podSelector": {"matchLabels": self.labels}}],
                        "ports": [{"protocol": "TCP", "port": PORT}],
                    }
                ],
            },
            opts=self._child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol-health-check",
            metadata={"name": "allow-ingress-health-check", "namespace": ns},
            spec={
                "podSelector": {"matchLabels": self.labels},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": dict(labels)}}],
                        "ports": [{"protocol": "TCP", "port": PORT}],
                    }
                ],
            },
            opts=self._child,
        )
