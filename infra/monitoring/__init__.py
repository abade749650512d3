"""kube-prometheus-stack, Loki and Promtail; alert rules and dashboards load from files here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml

from infra._k8s import RESTRICTED_CONTAINER, namespace, release

HERE = Path(__file__).resolve().parent
RULES_DIR = HERE / "rules"  # PrometheusRule specs: *.yaml, each {groups: [...]}
DASHBOARDS_DIR = HERE / "dashboards"  # Grafana dashboards: *.json


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    cluster_name: str
    log_retention_days: int = 30
    metrics_retention_days: int = 15
    prometheus_storage_gib: int = 50
    loki_storage_gib: int = 50
    rules_dir: Path = RULES_DIR
    dashboards_dir: Path = DASHBOARDS_DIR


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
    """Creates the `monitoring` namespace, kube-prometheus-stack (Prometheus, Alertmanager and
    Grafana with gp3 persistence and retention, Grafana admin password generated), Loki (single
    binary, persistent, 30-day retention by the compactor) and Promtail as pinned Helm releases,
    plus one PrometheusRule per file in `rules/` and one dashboard ConfigMap per file in
    `dashboards/`.
    """

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:monitoring:Monitoring", name, None, opts)
        ns = namespace("monitoring", f"{name}-ns", self, enforce="privileged")
        child = pulumi.ResourceOptions(parent=self)
        admin = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=child)
        admin_secret = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata={"name": "grafana-admin", "namespace": ns.metadata.name},
            string_data={"admin-user": "admin", "admin-password": admin.result},
            opts=child,
        )
        storage = {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"]}
        stack = release(
            f"{name}-kube-prometheus-stack",
            "kube-prometheus-stack",
            ns,
            {
                "prometheus": {
                    "prometheusSpec": {
                        "retention": f"{args.metrics_retention_days}d",
                        "externalLabels": {"cluster": args.cluster_name},
                        # Pick up every PrometheusRule/ServiceMonitor, not only the chart's own.
                        "ruleSelectorNilUsesHelmValues": False,
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                        "podMonitorSelectorNilUsesHelmValues": False,
                        "replicas": 2,
                        "storageSpec": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    **storage,
                                    "resources": {
                                        "requests": {"storage": f"{args.prometheus_storage_gib}Gi"}
                                    },
                                }
                            }
                        },
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 1000,
                            "fsGroup": 2000,
                        },
                    }
                },
                "alertmanager": {
                    "alertmanagerSpec": {
                        "replicas": 2,
                        "storage": {
                            "volumeClaimTemplate": {
                                "spec": {**storage, "resources": {"requests": {"storage": "5Gi"}}}
                            }
                        },
                    }
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
                    "additionalDataSources": [
                        {
                            "name": "Loki",
                            "type": "loki",
                            "url": "http://loki-gateway.monitoring.svc",
                        }
                    ],
                    "containerSecurityContext": RESTRICTED_CONTAINER,
                },
            },
            self,
            depends_on=[admin_secret],
        )
        loki = release(
            f"{name}-loki",
            "loki",
            ns,
            {
                "deploymentMode": "SingleBinary",
                "loki": {
                    "auth_enabled": False,
                    "commonConfig": {"replication_factor": 1},
                    "storage": {"type": "filesystem"},
                    "schemaConfig": {
                        "configs": [
                            {
                                "from": "2024-04-01",
                                "store": "tsdb",
                                "object_store": "filesystem",
                                "schema": "v13",
                                "index": {"prefix": "loki_index_", "period": "24h"},
                            }
                        ]
                    },
                    "limits_config": {"retention_period": f"{args.log_retention_days * 24}h"},
                    "compactor": {"retention_enabled": True, "delete_request_store": "filesystem"},
                },
                "singleBinary": {
                    "replicas": 1,
                    "persistence": {
                        "enabled": True,
                        "storageClass": "gp3",
                        "size": f"{args.loki_storage_gib}Gi",
                    },
                },
                "backend": {"replicas": 0},
                "read": {"replicas": 0},
                "write": {"replicas": 0},
                "chunksCache": {"enabled": False},
                "resultsCache": {"enabled": False},
            },
            self,
        )
        release(
            f"{name}-promtail",
            "promtail",
            ns,
            {
                "config": {
                    "clients": [{"url": "http://loki-gateway.monitoring.svc/loki/api/v1/push"}]
                }
            },
            self,
            depends_on=[loki],
        )
        rule_opts = pulumi.ResourceOptions(parent=self, depends_on=[stack])
        for stem, spec in load_rules(args.rules_dir).items():
            k8s.apiextensions.CustomResource(
                f"{name}-rule-{stem}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata={
                    "name": f"utp-{stem}",
                    "namespace": "monitoring",
                    "labels": {"app": "utp"},
                },
                spec=spec,
                opts=rule_opts,
            )
        for stem, text in load_dashboards(args.dashboards_dir).items():
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{stem}",
                metadata={
                    "name": f"utp-dashboard-{stem}",
                    "namespace": "monitoring",
                    "labels": {"grafana_dashboard": "1"},
                },
                data={f"{stem}.json": text},
                opts=child,
            )
        self.register_outputs({})
