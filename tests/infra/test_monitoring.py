"""Monitoring: rules, dashboards, Alertmanager routing, logs and the exporters the alerts need."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
import yaml

from infra._k8s import CHARTS
from infra.monitoring import (
    DASHBOARDS_DIR,
    RULES_DIR,
    AlertingArgs,
    CloudWatchTargets,
    LogBucket,
    Monitoring,
    MonitoringArgs,
    PostgresTarget,
    RedisTarget,
)
from infra.monitoring.values import LOGGING_FILE
from infra.monitoring_config import CRITICAL_RECEIVER, NULL_RECEIVER, WARNING_RECEIVER
from infra.service.env import RDS_CA_BUNDLE
from stacks.graph import RecordedResource
from stacks.mocks import SECRET_MASK
from stacks.regions import GraphIndex
from tests.infra.support import aws_opts, random_provider

RELEASE = "kubernetes:helm.sh/v3:Release"
ACCOUNT = "123456789012"
DB_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!db-1-AbCdEf"
REDIS_SECRET = f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:redis-auth-AbCdEf"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXX"
LOGGING = yaml.safe_load(LOGGING_FILE.read_text())
LOG_BUCKET = LogBucket(
    name="utp-prd-usw2-loki-123456789012",
    arn="arn:aws:s3:::utp-prd-usw2-loki-123456789012",
    kms_key_arn=f"arn:aws:kms:us-west-2:{ACCOUNT}:key/s3",
)


def _monitoring(
    *,
    region: str = "us-west-2",
    alerting: bool = False,
    health_checks: tuple[str, ...] = (),
    captured: list[dict[str, Any]] | None = None,
) -> None:
    opts = aws_opts(region)
    opts = pulumi.ResourceOptions.merge(opts, random_provider())
    m = Monitoring(
        "mon",
        MonitoringArgs(
            cluster_name="utp-prd-usw2-eks",
            logs=LOG_BUCKET,
            region=region,
            alerting=AlertingArgs(
                slack_webhook_url=pulumi.Output.secret(WEBHOOK),
                pagerduty_routing_key=pulumi.Output.secret("pd-routing-key"),
                runbook_base_url="https://github.com/example/utp/blob/main",
            )
            if alerting
            else None,
            oidc_provider_arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks/id/X",
            oidc_issuer="https://oidc.eks.us-west-2.amazonaws.com/id/X",
            postgres=PostgresTarget(
                instance_id="utp-prd-usw2-db",
                host="utp-prd-usw2-db.abc.us-west-2.rds.amazonaws.com",
                database="utp",
                credentials_secret_arn=DB_SECRET,
                credentials_region="us-east-1",
            ),
            redis=RedisTarget(
                replication_group_id="utp-prd-usw2-cache",
                host="master.utp-prd-usw2-cache.abc.usw2.cache.amazonaws.com",
                auth_secret_arn=REDIS_SECRET,
            ),
            cloudwatch=CloudWatchTargets(
                rds_instance_ids=["utp-prd-usw2-db"], route53_health_check_ids=health_checks
            ),
            secrets_kms_key_arns=[f"arn:aws:kms:us-west-2:{ACCOUNT}:key/secrets"],
        ),
        opts=opts,
    )
    if captured is not None:
        m.alertmanager_config.apply(captured.append)


@pytest.fixture
def graph(build) -> GraphIndex:
    return build(_monitoring)


def _release(g: GraphIndex, chart_key: str) -> RecordedResource:
    (r,) = [r for r in g.of_type(RELEASE) if r.inputs["name"] == chart_key]
    return r


def _named(g: GraphIndex, typ: str, name: str) -> RecordedResource:
    (r,) = [r for r in g.of_type(typ) if r.inputs["metadata"]["name"] == name]
    return r


def _policy(g: GraphIndex, role_name: str) -> dict[str, Any]:
    (p,) = [p for p in g.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.startswith(role_name)]
    return dict(json.loads(p.inputs["policy"]))


def _trust(g: GraphIndex, role_name: str) -> dict[str, Any]:
    (r,) = [r for r in g.of_type("aws:iam/role:Role") if r.name.startswith(role_name)]
    return dict(json.loads(r.inputs["assumeRolePolicy"]))


def test_one_prometheus_rule_per_rule_file(graph):
    rules = {
        r.inputs["metadata"]["name"]: r
        for r in graph.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    }
    files = sorted(RULES_DIR.glob("*.yaml"))
    assert set(rules) == {f"utp-{p.stem}" for p in files}
    for path in files:
        rule = rules[f"utp-{path.stem}"]
        assert rule.inputs["metadata"]["namespace"] == "monitoring"
        assert rule.inputs["spec"]["groups"] == yaml.safe_load(path.read_text())["groups"]


def test_dashboards_are_sidecar_config_maps(graph):
    maps = {
        m.inputs["metadata"]["name"]: m
        for m in graph.of_type("kubernetes:core/v1:ConfigMap")
        if m.inputs["metadata"]["name"].startswith("utp-dashboard-")
    }
    files = sorted(DASHBOARDS_DIR.glob("*.json"))
    assert set(maps) == {f"utp-dashboard-{p.stem}" for p in files}
    for path in files:
        cm = maps[f"utp-dashboard-{path.stem}"]
        assert cm.inputs["metadata"]["labels"] == {"grafana_dashboard": "1"}
        assert json.loads(cm.inputs["data"][f"{path.stem}.json"]) == json.loads(path.read_text())
    values = _release(graph, "kube-prometheus-stack").inputs["values"]
    assert values["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"


def test_alertmanager_routes_and_keeps_receivers_secret(build):
    captured: list[dict[str, Any]] = []
    g = build(lambda: _monitoring(alerting=True, captured=captured))
    # The webhook and the routing key are secrets: the release's values are masked whole.
    stack = _release(g, "kube-prometheus-stack")
    assert stack.inputs["values"] == SECRET_MASK
    text = json.dumps([r.inputs for r in g.graph], default=str)
    assert WEBHOOK not in text and "pd-routing-key" not in text
    (config,) = captured
    route = config["route"]
    assert route["receiver"] == NULL_RECEIVER
    by_severity = {r["matchers"][0]: r["receiver"] for r in route["routes"]}
    assert by_severity['severity = "critical"'] == CRITICAL_RECEIVER
    assert by_severity['severity = "warning"'] == WARNING_RECEIVER
    assert by_severity['severity = "info"'] == NULL_RECEIVER
    receivers = {r["name"]: r for r in config["receivers"]}
    critical = receivers[CRITICAL_RECEIVER]
    assert critical["slack_configs"][0]["api_url"] == WEBHOOK
    assert critical["pagerduty_configs"][0]["routing_key"] == "pd-routing-key"
    assert receivers[WARNING_RECEIVER]["slack_configs"][0]["channel"] == "#utp-alerts"
    assert "https://github.com/example/utp/blob/main/" in critical["slack_configs"][0]["text"]
    assert config["inhibit_rules"][0]["equal"] == ["cluster", "component"]


def test_without_receivers_everything_goes_to_the_null_receiver(graph):
    config = _release(graph, "kube-prometheus-stack").inputs["values"]["alertmanager"]["config"]
    assert config["route"]["receiver"] == NULL_RECEIVER and "routes" not in config["route"]
    assert config["receivers"] == [{"name": NULL_RECEIVER}]
    assert config["inhibit_rules"]  # still grouped and inhibited, as shown in the UI


def test_kube_prometheus_stack_brings_node_exporter_and_kube_state_metrics(graph):
    values = _release(graph, "kube-prometheus-stack").inputs["values"]
    assert values["nodeExporter"]["enabled"] and values["kubeStateMetrics"]["enabled"]
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    assert spec["externalLabels"] == {"cluster": "utp-prd-usw2-eks"}


def test_control_plane_targets_eks_hides_are_off(graph):
    # Scraping them can never succeed on EKS, so their *Down alerts would page forever; the
    # chart gates each Service, ServiceMonitor and alert group on `<component>.enabled`.
    values = _release(graph, "kube-prometheus-stack").inputs["values"]
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[component] == {"enabled": False}, component
    # The API server and kubelets are reachable on EKS and stay monitored.
    assert "kubeApiServer" not in values and "kubelet" not in values


def test_logs_pipeline_retention_and_datasource_come_from_logging_yaml(graph):
    stages = _release(graph, "promtail").inputs["values"]["config"]["snippets"]["pipelineStages"]
    assert [next(iter(s)) for s in stages] == [
        next(iter(s)) for s in LOGGING["promtail"]["pipeline_stages"]
    ]
    assert stages[0] == {"cri": {}}
    match = stages[1]["match"]
    assert match["selector"] == '{app="utp"}'
    # `level:` (null) in the file must survive as an explicit label, not an empty stage.
    assert {"labels": {"level": "level"}} in match["stages"]
    assert stages[-1] == {"labelallow": ["app", "namespace", "level"]}
    loki = _release(graph, "loki").inputs["values"]["loki"]
    assert loki["limits_config"]["retention_period"] == "720h"
    assert loki["compactor"]["retention_enabled"] is True
    grafana = _release(graph, "kube-prometheus-stack").inputs["values"]["grafana"]
    (datasource,) = grafana["additionalDataSources"]
    assert datasource == LOGGING["grafana"]["datasource"]
    assert datasource["jsonData"]["derivedFields"][0]["datasourceUid"] == datasource["uid"]


@pytest.mark.parametrize(
    "chart_key",
    [
        "kube-prometheus-stack",
        "loki",
        "promtail",
        "prometheus-postgres-exporter",
        "prometheus-redis-exporter",
        "prometheus-cloudwatch-exporter",
    ],
)
def test_every_release_is_pinned(graph, chart_key):
    r = _release(graph, chart_key)
    chart, version, repo = CHARTS[chart_key]
    assert (r.inputs["chart"], r.inputs["version"]) == (chart, version)
    assert r.inputs["repositoryOpts"]["repo"] == repo
    assert version[0].isdigit() or version.startswith("v")
    assert r.inputs["namespace"] == "monitoring"


def test_postgres_exporter_watches_the_database_with_synced_credentials(graph):
    values = _release(graph, "prometheus-postgres-exporter").inputs["values"]
    source = values["config"]["datasource"]
    assert source["host"] == "utp-prd-usw2-db.abc.us-west-2.rds.amazonaws.com"
    # TLS that verifies the server: the RDS CA bundle the service trusts, mounted read-only.
    assert (source["database"], source["sslmode"]) == ("utp", "verify-full")
    assert source["extraParams"] == f"sslrootcert=/etc/rds-ca/{RDS_CA_BUNDLE.name}"
    (volume,) = values["extraVolumes"]
    ca = _named(graph, "kubernetes:core/v1:ConfigMap", volume["configMap"]["name"])
    assert ca.inputs["data"] == {RDS_CA_BUNDLE.name: RDS_CA_BUNDLE.read_text()}
    assert "BEGIN CERTIFICATE" in RDS_CA_BUNDLE.read_text()
    assert values["extraVolumeMounts"] == [
        {"name": volume["name"], "mountPath": "/etc/rds-ca", "readOnly": True}
    ]
    assert "password" not in source  # only from the synced Secret
    secret = source["passwordSecret"]["name"]
    assert source["userSecret"]["name"] == secret
    es = _named(graph, "kubernetes:external-secrets.io/v1:ExternalSecret", secret)
    # The replica's cluster reads the primary's managed secret through a us-east-1 store.
    store = es.inputs["spec"]["secretStoreRef"]["name"]
    regions = {
        s.inputs["metadata"]["name"]: s.inputs["spec"]["provider"]["aws"]["region"]
        for s in graph.of_type("kubernetes:external-secrets.io/v1:SecretStore")
    }
    assert regions[store] == "us-east-1"
    assert {d["remoteRef"]["key"] for d in es.inputs["spec"]["data"]} == {DB_SECRET}
    assert {d["remoteRef"]["property"] for d in es.inputs["spec"]["data"]} == {
        "username",
        "password",
    }
    monitor = values["serviceMonitor"]
    assert monitor["enabled"]
    assert monitor["relabelings"] == [{"targetLabel": "instance", "replacement": "utp-prd-usw2-db"}]
    assert "--exclude-databases=rdsadmin" in values["config"]["extraArgs"]


def test_redis_exporter_uses_tls_and_the_auth_token(graph):
    values = _release(graph, "prometheus-redis-exporter").inputs["values"]
    assert values["redisAddress"] == (
        "rediss://master.utp-prd-usw2-cache.abc.usw2.cache.amazonaws.com:6379"
    )
    auth = values["auth"]
    assert auth["enabled"] and "redisPassword" not in auth
    es = _named(graph, "kubernetes:external-secrets.io/v1:ExternalSecret", auth["secret"]["name"])
    assert es.inputs["spec"]["data"] == [
        {"secretKey": auth["secret"]["key"], "remoteRef": {"key": REDIS_SECRET}}
    ]
    regions = {
        s.inputs["metadata"]["name"]: s.inputs["spec"]["provider"]["aws"]["region"]
        for s in graph.of_type("kubernetes:external-secrets.io/v1:SecretStore")
    }
    assert regions[es.inputs["spec"]["secretStoreRef"]["name"]] == "us-west-2"
    assert values["serviceMonitor"]["enabled"]
    assert values["serviceMonitor"]["relabelings"][0]["replacement"] == "utp-prd-usw2-cache"


def test_exporters_secret_reader_may_read_only_those_secrets(graph):
    statements = _policy(graph, "mon-secrets-reader")["Statement"]
    read = next(s for s in statements if "secretsmanager:GetSecretValue" in s["Action"])
    assert sorted(read["Resource"]) == sorted([DB_SECRET, REDIS_SECRET])
    sa = _named(graph, "kubernetes:core/v1:ServiceAccount", "monitoring-secrets")
    assert sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:")
    condition = _trust(graph, "mon-secrets-reader")["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:monitoring:monitoring-secrets" in condition.values()


def test_cloudwatch_exporter_reads_route53_and_rds_in_us_east_1(build):
    g = build(lambda: _monitoring(region="us-east-1", health_checks=("hc-primary", "hc-dr")))
    values = _release(g, "prometheus-cloudwatch-exporter").inputs["values"]
    config = yaml.safe_load(values["config"])
    assert config["region"] == "us-east-1"
    # Samples at scrape time, or the rules' instant queries would never see them.
    assert config["set_timestamp"] is False and config["use_get_metric_data"] is True
    metrics = {m["aws_metric_name"]: m for m in config["metrics"]}
    route53 = metrics["HealthCheckStatus"]
    assert route53["aws_namespace"] == "AWS/Route53"
    assert route53["aws_dimension_select"] == {"HealthCheckId": ["hc-primary", "hc-dr"]}
    assert route53["aws_statistics"] == ["Minimum"]
    rds = metrics["FreeStorageSpace"]
    assert rds["aws_namespace"] == "AWS/RDS" and rds["aws_statistics"] == ["Average"]
    assert rds["aws_dimension_select"] == {"DBInstanceIdentifier": ["utp-prd-usw2-db"]}
    assert values["serviceMonitor"]["enabled"]


def test_cloudwatch_exporter_role_is_scoped(graph):
    (statement,) = _policy(graph, "mon-cloudwatch-exporter")["Statement"]
    assert sorted(statement["Action"]) == ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]
    assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-west-2"}}
    trust = _trust(graph, "mon-cloudwatch-exporter")["Statement"][0]["Condition"]["StringEquals"]
    values = _release(graph, "prometheus-cloudwatch-exporter").inputs["values"]
    account = values["serviceAccount"]
    assert f"system:serviceaccount:monitoring:{account['name']}" in trust.values()
    assert account["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam")
    # Outside us-east-1 there are no Route 53 metrics to read.
    config = yaml.safe_load(values["config"])
    assert [m["aws_namespace"] for m in config["metrics"]] == ["AWS/RDS"]


def test_route53_metrics_only_from_us_east_1(build):
    with pytest.raises(ValueError, match="us-east-1"):
        build(lambda: _monitoring(region="us-west-2", health_checks=("hc",)))


def test_loki_keeps_30_days_in_its_own_bucket_through_irsa(graph):
    values = _release(graph, "loki").inputs["values"]
    loki = values["loki"]
    # Loki answers for 30 days; its compactor enforces it (in the bucket, not on a volume).
    assert loki["limits_config"]["retention_period"] == "720h"
    assert loki["compactor"] == {"retention_enabled": True, "delete_request_store": "s3"}
    assert loki["storage"]["type"] == "s3"
    assert loki["storage"]["bucketNames"]["chunks"] == LOG_BUCKET.name
    assert loki["storage"]["s3"] == {"region": "us-west-2"}
    assert {c["object_store"] for c in loki["schemaConfig"]["configs"]} == {"s3"}
    account = values["serviceAccount"]
    trust = _trust(graph, "mon-loki")["Statement"][0]["Condition"]["StringEquals"]
    assert f"system:serviceaccount:monitoring:{account['name']}" in trust.values()
    assert account["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam")


def test_loki_role_may_not_delete_archived_versions(graph):
    statements = _policy(graph, "mon-loki")["Statement"]
    granted = {
        action: statement["Resource"]
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    objects = f"{LOG_BUCKET.arn}/*"
    assert granted == {
        "s3:ListBucket": LOG_BUCKET.arn,
        "s3:GetObject": objects,
        "s3:PutObject": objects,
        "s3:DeleteObject": objects,
        "kms:GenerateDataKey": LOG_BUCKET.kms_key_arn,
        "kms:Decrypt": LOG_BUCKET.kms_key_arn,
    }
    assert not any("*" in str(s["Action"]) for s in statements)


def test_exporters_need_the_cluster_identity(build):
    def program() -> None:
        Monitoring(
            "mon",
            MonitoringArgs(
                cluster_name="c",
                logs=LOG_BUCKET,
                cloudwatch=CloudWatchTargets(rds_instance_ids=["db"]),
            ),
            opts=aws_opts(),
        )

    with pytest.raises(ValueError, match="IRSA"):
        build(program)
