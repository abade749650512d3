"""Monitoring in the composed program: each cluster's exporters point at its own region."""

from __future__ import annotations

import json

import msgspec
import yaml

from stacks.config import SecretValue, load_stack_config
from stacks.graph import RecordedResource
from stacks.mocks import SECRET_MASK
from stacks.offline import build_graph
from stacks.regions import GraphIndex

EAST, WEST = "us-east-1", "us-west-2"
RELEASE = "kubernetes:helm.sh/v3:Release"


def _by_region(g: GraphIndex, typ: str, **match: str) -> dict[str, RecordedResource]:
    out: dict[str, RecordedResource] = {}
    for r in g.of_type(typ):
        if all(r.inputs.get(k) == v for k, v in match.items()):
            region = g.effective_region(r)
            assert region is not None and region not in out, r.name
            out[region] = r
    return out


def test_each_cluster_watches_its_own_data_stores(production):
    g = production
    dbs = _by_region(g, "aws:rds/instance:Instance")
    caches = _by_region(g, "aws:elasticache/replicationGroup:ReplicationGroup")
    pg = _by_region(g, RELEASE, name="prometheus-postgres-exporter")
    redis = _by_region(g, RELEASE, name="prometheus-redis-exporter")
    assert set(pg) == set(redis) == {EAST, WEST}
    for region in (EAST, WEST):
        source = pg[region].inputs["values"]["config"]["datasource"]
        assert source["host"] == dbs[region].outputs["address"]
        relabel = pg[region].inputs["values"]["serviceMonitor"]["relabelings"][0]
        assert relabel["replacement"] == dbs[region].outputs["identifier"]
        address = redis[region].inputs["values"]["redisAddress"]
        assert address == f"rediss://{caches[region].outputs['primaryEndpointAddress']}:6379"


def test_route53_health_is_read_where_route53_publishes_it(production):
    g = production
    checks = sorted(c.outputs["id"] for c in g.of_type("aws:route53/healthCheck:HealthCheck"))
    assert len(checks) == 2
    dbs = _by_region(g, "aws:rds/instance:Instance")
    exporters = _by_region(g, RELEASE, name="prometheus-cloudwatch-exporter")
    for region, exporter in exporters.items():
        config = yaml.safe_load(exporter.inputs["values"]["config"])
        assert config["region"] == region
        metrics = {m["aws_namespace"]: m for m in config["metrics"]}
        assert metrics["AWS/RDS"]["aws_dimension_select"] == {
            "DBInstanceIdentifier": [dbs[region].outputs["identifier"]]
        }
        if region == EAST:
            selected = metrics["AWS/Route53"]["aws_dimension_select"]["HealthCheckId"]
            assert sorted(selected) == checks
        else:
            assert "AWS/Route53" not in metrics


def test_stack_files_have_no_receivers_so_alerts_stay_in_the_cluster(production):
    for stack in _by_region(production, RELEASE, name="kube-prometheus-stack").values():
        config = stack.inputs["values"]["alertmanager"]["config"]
        assert [r["name"] for r in config["receivers"]] == ["null"]


def test_configured_receivers_make_the_alertmanager_values_secret():
    cfg = load_stack_config("staging")
    webhook = "https://hooks.slack.com/services/T0/B0/secretvalue"
    cfg = msgspec.structs.replace(
        cfg,
        alerting=msgspec.structs.replace(
            cfg.alerting,
            slack_webhook_url=SecretValue(webhook),
            # As `utp-infra plan` reads a stack file: a `secure:` value it cannot decrypt.
            pagerduty_routing_key=SecretValue("[secret utp.alerting.pagerdutyRoutingKey]", True),
        ),
    )
    g = GraphIndex(build_graph("staging", cfg))
    stacks = _by_region(g, RELEASE, name="kube-prometheus-stack")
    assert set(stacks) == {EAST, WEST}
    assert all(s.inputs["values"] == SECRET_MASK for s in stacks.values())
    assert webhook not in json.dumps([r.inputs for r in g.graph], default=str)


def _loki_bucket_parts(g: GraphIndex, typ: str, suffix: str) -> list[RecordedResource]:
    return [
        r
        for r in g.of_type(typ)
        if "-loki-" in r.name and r.name.endswith(suffix) and "access-logs" not in r.name
    ]


def test_loki_serves_30_days_and_its_buckets_archive_a_year(staging, production):
    for g in (staging, production):
        buckets = {
            g.effective_region(b): b.inputs["bucket"]
            for b in _loki_bucket_parts(g, "aws:s3/bucket:Bucket", "-loki-bucket")
        }
        assert set(buckets) == {EAST, WEST}
        lokis = _by_region(g, RELEASE, chart="loki")
        for region, release in lokis.items():
            values = release.inputs["values"]
            assert values["loki"]["storage"]["bucketNames"]["chunks"] == buckets[region]
            assert values["loki"]["limits_config"]["retention_period"] == "720h"
        lifecycles = _loki_bucket_parts(
            g, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "-lifecycle"
        )
        assert len(lifecycles) == 4  # each region's bucket and its replica in the other region
        for lifecycle in lifecycles:
            (rule,) = lifecycle.inputs["rules"]
            assert rule["expiration"]["days"] == 365
            # Loki deletes after 30 days; the deleted version stays for the rest of the year.
            assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 335
            assert {t["storageClass"] for t in rule["transitions"]} == {"STANDARD_IA"}
        policies = _loki_bucket_parts(g, "aws:s3/bucketPolicy:BucketPolicy", "-bucket-policy")
        assert len(policies) == 4
        for policy in policies:
            statements = json.loads(policy.inputs["policy"])["Statement"]
            (deny,) = [s for s in statements if s.get("Sid") == "NobodyDeletesVersions"]
            assert (deny["Effect"], deny["Principal"]) == ("Deny", "*")
            assert deny["Action"] == "s3:DeleteObjectVersion", policy.name
        replicated = _loki_bucket_parts(
            g, "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "-replication"
        )
        assert len(replicated) == 2
