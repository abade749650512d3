"""Pods beside the API: the migration Job, the backup and prune CronJobs and the backup-metrics
exporter."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra._k8s import RESTRICTED_CONTAINER
from infra._util import irsa_trust_policy, policy_document
from infra.backups import prune_service_account
from infra.service.pods import container, pod_spec
from infra.service.scope import Scope

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


def create_migration_job(scope: Scope, after: list[pulumi.Resource]) -> k8s.batch.v1.Job:
    a = scope.args
    return k8s.batch.v1.Job(
        f"{scope.name}-migrate",
        metadata={
            # One Job per image tag: a new release runs its migrations once, before rollout.
            "name": f"utp-migrate-{a.image_tag.replace('.', '-').replace('_', '-')}"[:63],
            "namespace": a.namespace,
            "labels": {**scope.labels, "app.kubernetes.io/component": "migrate"},
        },
        spec={
            "backoffLimit": 2,
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": {**scope.labels, "app.kubernetes.io/component": "migrate"}},
                "spec": pod_spec(
                    [container(scope, "migrate", ["utp", "db", "upgrade"])],
                    "utp",
                    restartPolicy="Never",
                ),
            },
        },
        opts=pulumi.ResourceOptions(parent=scope.parent, depends_on=[scope.ns, *after]),
    )


def create_backup_cronjob(
    scope: Scope,
    bucket: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    after: list[pulumi.Resource],
) -> None:
    a, name = scope.args, scope.name
    k8s.core.v1.ServiceAccount(
        f"{name}-backup-sa",
        metadata={
            "name": a.backup_service_account,
            "namespace": a.namespace,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        opts=scope.child,
    )
    backup = container(scope, "backup")
    # `utp backup` (service/ops): pg_dump -> <data_dir>/backups -> S3 with SSE-KMS (the
    # bucket's default CMK), manifest last.
    backup["command"] = ["utp", "backup", "--type", "database"]
    backup["env"] = [
        *backup["env"],
        {"name": "AWS_REGION", "value": a.region},
        {"name": "UTP_BACKUP_BUCKET", "value": bucket},
        {"name": "UTP_BACKUP_S3_REGION", "value": a.region},
    ]
    _cronjob(
        scope,
        "backup",
        schedule=a.backup_schedule,
        deadline_seconds=3600,
        job=backup,
        account=a.backup_service_account,
        after=[scope.ns, *after],
    )


def create_prune_cronjob(
    scope: Scope, bucket: pulumi.Input[str], role_arn: pulumi.Input[str]
) -> None:
    """`utp backups prune` once a day under its own service account: the only principal the
    bucket lets delete (infra/backups.py), and it can do nothing else."""
    a, name = scope.args, scope.name
    account = prune_service_account(a.backup_service_account)
    k8s.core.v1.ServiceAccount(
        f"{name}-prune-sa",
        metadata={
            "name": account,
            "namespace": a.namespace,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        opts=scope.child,
    )
    prune = container(
        scope,
        "prune",
        [
            "utp", "backups", "prune",
            "--keep-daily", str(a.keep_daily),
            "--keep-weekly", str(a.keep_weekly),
            "--keep-monthly", str(a.keep_monthly),
        ],
        database=False,
    )  # fmt: skip
    # Only what pruning reads: the bucket, never the database or provider secrets.
    prune["env"] = [
        {"name": "AWS_REGION", "value": a.region},
        {"name": "UTP_BACKUP_BUCKET", "value": bucket},
        {"name": "UTP_BACKUP_S3_REGION", "value": a.region},
        {"name": "UTP_DATA_DIR", "value": "/var/lib/utp"},
    ]
    _cronjob(
        scope,
        "backup-prune",
        schedule=a.prune_schedule,
        deadline_seconds=1800,
        job=prune,
        account=account,
        after=[scope.ns],
    )


def _cronjob(
    scope: Scope,
    component: str,
    *,
    schedule: str,
    deadline_seconds: int,
    job: dict[str, Any],
    account: str,
    after: list[pulumi.Resource],
) -> None:
    """One container on a schedule, never two runs at once, two retries within the deadline."""
    labels = {**scope.labels, "app.kubernetes.io/component": component}
    k8s.batch.v1.CronJob(
        f"{scope.name}-{component}",
        metadata={"name": f"utp-{component}", "namespace": scope.args.namespace, "labels": labels},
        spec={
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": deadline_seconds,
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": pod_spec([job], account, restartPolicy="Never"),
                    },
                }
            },
        },
        opts=pulumi.ResourceOptions(parent=scope.parent, depends_on=after),
    )


def create_backup_metrics(scope: Scope, bucket: pulumi.Input[str]) -> dict[str, str]:
    """The backup CronJob cannot reach node-exporter's textfile directory (a hostPath,
    refused by restricted Pod Security), so Prometheus scrapes the bucket's own view:
    `utp health-check --format prometheus` (newest manifest.json in the bucket, plus the
    service's live/ready/breaker state) written every minute and served as a file.
    Returns the exporter's pod labels, which its NetworkPolicies select on."""
    a, name, ns = scope.args, scope.name, scope.args.namespace
    labels = {**scope.labels, "app.kubernetes.io/component": "backup-metrics"}
    role = aws.iam.Role(
        f"{name}-backup-metrics-role",
        assume_role_policy=irsa_trust_policy(
            a.oidc_provider_arn, a.oidc_issuer, ns, BACKUP_METRICS_SA
        ),
        opts=pulumi.ResourceOptions(parent=scope.parent),
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
        opts=pulumi.ResourceOptions(parent=scope.parent),
    )
    account = k8s.core.v1.ServiceAccount(
        f"{name}-backup-metrics-sa",
        metadata={
            "name": BACKUP_METRICS_SA,
            "namespace": ns,
            "annotations": {"eks.amazonaws.com/role-arn": role.arn},
        },
        opts=scope.child,
    )
    volume = {"name": "metrics", "mountPath": "/metrics"}
    fresh = {"exec": {"command": ["sh", "-c", _CHECK_FRESH]}, "periodSeconds": 60}
    check: dict[str, Any] = {
        "name": "check",
        "image": scope.image,
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
        "image": scope.image,
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
    spec = pod_spec([check, serve], BACKUP_METRICS_SA, terminationGracePeriodSeconds=10)
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
        opts=pulumi.ResourceOptions(parent=scope.parent, depends_on=[scope.ns, account]),
    )
    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-backup-metrics-pdb",
        metadata={"name": "utp-backup-metrics", "namespace": ns},
        # A single replica must stay evictable, or it would block every node drain.
        spec={"maxUnavailable": 1, "selector": {"matchLabels": labels}},
        opts=scope.child,
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
        opts=scope.child,
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
        opts=scope.child,
    )
    return labels
