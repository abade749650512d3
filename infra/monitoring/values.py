"""Helm values for the monitoring releases, built from the files in this package and typed args."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml

from infra._k8s import RESTRICTED_CONTAINER

HERE = Path(__file__).resolve().parent
LOGGING_FILE = HERE / "logging.yaml"  # promtail pipeline, Loki retention, Grafana datasource

POSTGRES_CREDENTIALS = "postgres-exporter-credentials"  # keys: username, password
REDIS_AUTH = "redis-exporter-auth"  # key: password
# The RDS CA bundle the service trusts (infra/data/rds-ca), mounted into postgres-exporter.
POSTGRES_RDS_CA = "postgres-exporter-rds-ca"  # ConfigMap in the monitoring namespace
POSTGRES_RDS_CA_DIR = "/etc/rds-ca"
CLOUDWATCH_SERVICE_ACCOUNT = "cloudwatch-exporter"
LOKI_SERVICE_ACCOUNT = "loki"

# The exporters are small and steady; limits keep a misbehaving one from starving Prometheus.
_SMALL = {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}}
_POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "fsGroup": 65534,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True, kw_only=True)
class LoggingConfig:
    """infra/monitoring/logging.yaml, validated."""

    retention_period: str
    pipeline_stages: list[dict[str, Any]]
    datasource: dict[str, Any]


def load_logging(path: Path = LOGGING_FILE) -> LoggingConfig:
    doc = yaml.safe_load(path.read_text())
    try:
        retention = doc["loki"]["retention_period"]
        stages = doc["promtail"]["pipeline_stages"]
        datasource = doc["grafana"]["datasource"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: missing {exc}") from None
    if not isinstance(retention, str) or not retention.endswith("h"):
        raise ValueError(f"{path}: loki.retention_period must be hours, e.g. 720h")
    if not isinstance(stages, list) or not isinstance(datasource, dict):
        raise ValueError(f"{path}: pipeline_stages must be a list and datasource a mapping")
    return LoggingConfig(retention_period=retention, pipeline_stages=stages, datasource=datasource)


def loki_values(
    logging: LoggingConfig,
    storage_gib: int,
    *,
    bucket: pulumi.Input[str],
    region: str,
    role_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """Loki as one binary with its chunks and TSDB index in S3 (the role's credentials come
    from IRSA; the bucket's default SSE-KMS encrypts). The volume holds the write-ahead log
    and the index cache only. The ruler is off; it shares the bucket name the chart asks for."""
    return {
        "deploymentMode": "SingleBinary",
        "serviceAccount": {
            "name": LOKI_SERVICE_ACCOUNT,
            "annotations": {
                "eks.amazonaws.com/role-arn": role_arn,
                "eks.amazonaws.com/sts-regional-endpoints": "true",
            },
        },
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 1},
            "storage": {
                "type": "s3",
                "bucketNames": {"chunks": bucket, "ruler": bucket},
                "s3": {"region": region},
            },
            "schemaConfig": {
                "configs": [
                    {
                        "from": "2024-04-01",
                        "store": "tsdb",
                        "object_store": "s3",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            "limits_config": {"retention_period": logging.retention_period},
            # Without the compactor's retention, retention_period is only recorded, not applied.
            "compactor": {"retention_enabled": True, "delete_request_store": "s3"},
        },
        "singleBinary": {
            "replicas": 1,
            "persistence": {"enabled": True, "storageClass": "gp3", "size": f"{storage_gib}Gi"},
        },
        "backend": {"replicas": 0},
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
    }


def _explicit_labels(node: Any, key: str = "") -> Any:
    """`labels: {level: }` (null: same name as the extracted field) spelt out as
    `{level: level}`: Pulumi drops null map values, which would leave the stage empty."""
    if isinstance(node, dict):
        if key in ("labels", "structured_metadata"):
            return {k: k if v is None else v for k, v in node.items()}
        return {k: _explicit_labels(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_explicit_labels(item) for item in node]
    return node


def promtail_values(logging: LoggingConfig) -> dict[str, Any]:
    return {
        "config": {
            "clients": [{"url": "http://loki-gateway.monitoring.svc/loki/api/v1/push"}],
            "snippets": {"pipelineStages": _explicit_labels(logging.pipeline_stages)},
        }
    }


# kube-prometheus-stack's control-plane scrape targets that EKS does not expose to the cluster.
UNREACHABLE_ON_EKS = ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy")


def kube_prometheus_stack_values(
    *,
    cluster_name: str,
    metrics_retention_days: int,
    prometheus_storage_gib: int,
    alertmanager_config: pulumi.Input[dict[str, Any]],
    loki_datasource: dict[str, Any],
) -> dict[str, Any]:
    """kube-prometheus-stack; its node-exporter and kube-state-metrics (on by default) stay on."""
    storage = {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"]}
    return {
        # The prometheus-operator-crds release owns the CRDs (infra/crds.py), installed before
        # anything in the cluster creates a ServiceMonitor.
        "crds": {"enabled": False},
        "nodeExporter": {"enabled": True},
        "kubeStateMetrics": {"enabled": True},
        # EKS runs the controller manager, scheduler and etcd out of reach, and kube-proxy
        # serves its metrics on 127.0.0.1 only: their targets would stay down and their
        # *Down alerts page forever. `enabled: false` drops the Service, the ServiceMonitor
        # and the chart's alert group of each.
        **{component: {"enabled": False} for component in UNREACHABLE_ON_EKS},
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{metrics_retention_days}d",
                "externalLabels": {"cluster": cluster_name},
                # Pick up every PrometheusRule/ServiceMonitor, not only the chart's own.
                "ruleSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "replicas": 2,
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            **storage,
                            "resources": {"requests": {"storage": f"{prometheus_storage_gib}Gi"}},
                        }
                    }
                },
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 2000},
            }
        },
        "alertmanager": {
            # Rendered with toYaml (tplConfig stays false), so the {{ }} templates in the Slack
            # and PagerDuty texts reach Alertmanager untouched.
            "config": alertmanager_config,
            "alertmanagerSpec": {
                "replicas": 2,
                "storage": {
                    "volumeClaimTemplate": {
                        "spec": {**storage, "resources": {"requests": {"storage": "5Gi"}}}
                    }
                },
            },
        },
        "grafana": {
            "admin": {"existingSecret": "grafana-admin"},
            "persistence": {"enabled": True, "storageClassName": "gp3", "size": "10Gi"},
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "searchNamespace": "ALL",
                }
            },
            "additionalDataSources": [loki_datasource],
            "containerSecurityContext": RESTRICTED_CONTAINER,
        },
    }


def _instance_label(value: pulumi.Input[str]) -> list[dict[str, Any]]:
    """Relabel `instance` from the exporter pod's address to the data store it watches: the
    alerts name `{{ $labels.instance }}`, and a pod IP tells an operator nothing."""
    return [{"targetLabel": "instance", "replacement": value}]


def postgres_exporter_values(
    *, host: pulumi.Input[str], database: str, instance: pulumi.Input[str], ca_file: str
) -> dict[str, Any]:
    """prometheus-postgres-exporter for one RDS instance. Its default collectors export every
    pg_* name the rules and dashboards use: pg_up, pg_stat_database_numbackends/xact_commit
    (stat_database), pg_settings_max_connections (settings), pg_replication_lag_seconds
    (replication), pg_database_size_bytes (database), pg_stat_activity_max_tx_duration
    (stat_activity)."""
    return {
        "config": {
            "datasource": {
                "host": host,
                "port": "5432",
                "database": database,
                # The parameter group sets rds.force_ssl=1; verify-full also checks the server's
                # certificate against the RDS CA bundle and its name against `host`, as the
                # service does (infra/service/env.py).
                "sslmode": "verify-full",
                "extraParams": f"sslrootcert={POSTGRES_RDS_CA_DIR}/{ca_file}",
                "userSecret": {"name": POSTGRES_CREDENTIALS, "key": "username"},
                "passwordSecret": {"name": POSTGRES_CREDENTIALS, "key": "password"},
            },
            # RDS's own `rdsadmin` database refuses pg_database_size(), which would fail the
            # whole database collector (and lose pg_database_size_bytes).
            "extraArgs": ["--exclude-databases=rdsadmin"],
        },
        "extraVolumes": [{"name": "rds-ca", "configMap": {"name": POSTGRES_RDS_CA}}],
        "extraVolumeMounts": [
            {"name": "rds-ca", "mountPath": POSTGRES_RDS_CA_DIR, "readOnly": True}
        ],
        "serviceMonitor": {
            "enabled": True,
            "interval": "30s",
            "timeout": "10s",
            "relabelings": _instance_label(instance),
        },
        "resources": _SMALL,
        "podSecurityContext": _POD_SECURITY,
        "securityContext": RESTRICTED_CONTAINER,
    }


def redis_exporter_values(
    *, host: pulumi.Input[str], instance: pulumi.Input[str]
) -> dict[str, Any]:
    """prometheus-redis-exporter for one ElastiCache replication group (TLS + auth token).
    redis_up, redis_memory_used_bytes, redis_memory_max_bytes (INFO's maxmemory),
    redis_connected_clients and redis_evicted_keys_total come from INFO."""
    return {
        # rediss://: in-transit encryption is required; the image trusts Amazon's CAs.
        "redisAddress": pulumi.Output.concat("rediss://", host, ":6379"),
        "auth": {"enabled": True, "secret": {"name": REDIS_AUTH, "key": "password"}},
        # ElastiCache does not allow CONFIG; skip it instead of logging an error every scrape.
        "extraArgs": {"config-command": "-"},
        "serviceMonitor": {
            "enabled": True,
            "interval": "30s",
            "timeout": "10s",
            "relabelings": _instance_label(instance),
        },
        "resources": _SMALL,
        "podSecurityContext": _POD_SECURITY,
        "securityContext": RESTRICTED_CONTAINER,
    }


def cloudwatch_config(
    region: str, rds_instance_ids: Sequence[str], route53_health_check_ids: Sequence[str]
) -> str:
    """cloudwatch_exporter's config. Samples carry the scrape time (set_timestamp: false):
    with CloudWatch's own timestamps they would be minutes old and invisible to the rules'
    instant queries. Route 53 health is final after a minute; RDS storage is given five."""
    metrics: list[dict[str, Any]] = []
    if route53_health_check_ids:
        metrics.append(
            {
                "aws_namespace": "AWS/Route53",
                "aws_metric_name": "HealthCheckStatus",
                "aws_dimensions": ["HealthCheckId"],
                # Every dimension selected: no ListMetrics call, and only our checks.
                "aws_dimension_select": {"HealthCheckId": list(route53_health_check_ids)},
                "aws_statistics": ["Minimum"],
                "delay_seconds": 60,
            }
        )
    if rds_instance_ids:
        metrics.append(
            {
                "aws_namespace": "AWS/RDS",
                "aws_metric_name": "FreeStorageSpace",
                "aws_dimensions": ["DBInstanceIdentifier"],
                "aws_dimension_select": {"DBInstanceIdentifier": list(rds_instance_ids)},
                "aws_statistics": ["Average"],
                "delay_seconds": 300,
            }
        )
    config = {
        "region": region,
        "period_seconds": 60,
        "range_seconds": 600,
        "set_timestamp": False,
        "use_get_metric_data": True,
        "metrics": metrics,
    }
    return yaml.safe_dump(config, sort_keys=False)


def cloudwatch_exporter_values(
    *,
    region: str,
    role_arn: pulumi.Input[str],
    rds_instance_ids: Sequence[pulumi.Input[str]],
    route53_health_check_ids: Sequence[pulumi.Input[str]],
) -> dict[str, Any]:
    rds = pulumi.Output.all(*rds_instance_ids)
    checks = pulumi.Output.all(*route53_health_check_ids)
    config = pulumi.Output.all(rds, checks).apply(
        lambda ids: cloudwatch_config(region, ids[0], ids[1])
    )
    return {
        "config": config,
        "serviceAccount": {
            "create": True,
            "name": CLOUDWATCH_SERVICE_ACCOUNT,
            "annotations": {
                "eks.amazonaws.com/role-arn": role_arn,
                "eks.amazonaws.com/sts-regional-endpoints": "true",
            },
        },
        "serviceMonitor": {"enabled": True, "interval": "60s", "timeout": "30s"},
        "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        # The JVM writes its perf data under /tmp, so the root filesystem stays writable.
        "containerSecurityContext": {
            key: value
            for key, value in RESTRICTED_CONTAINER.items()
            if key != "readOnlyRootFilesystem"
        },
    }
