"""Both stacks: a supported Kubernetes version with its add-on row, a cost allocation tag per
component on every taggable resource, and audit and detection in both regions."""

from __future__ import annotations

import json
from datetime import date

import pytest

from infra.autoscaling import AUTOSCALER_IMAGE_TAGS
from infra.eks import ADDON_VERSIONS
from policies.rules import eks_calendar
from policies.rules.tags import COMPONENT_TAG, TAGGABLE
from stacks.config import load_stack_config
from stacks.regions import GraphIndex

TODAY = date(2026, 12, 7)


@pytest.fixture(params=["staging", "production"])
def stack(request, staging, production) -> tuple[str, GraphIndex]:
    return request.param, {"staging": staging, "production": production}[request.param]


def test_clusters_run_a_version_in_standard_support_with_its_add_on_row(stack):
    name, graph = stack
    version = load_stack_config(name).cluster.kubernetes_version
    ends = eks_calendar.support_ends(version)
    assert ends is not None and ends > TODAY, f"{version} is past standard support on {TODAY}"
    for cluster in graph.of_type("aws:eks/cluster:Cluster"):
        assert cluster.inputs["version"] == version
    addons = {}
    for addon in graph.of_type("aws:eks/addon:Addon"):
        addons.setdefault(addon.inputs["addonName"], set()).add(addon.inputs["addonVersion"])
    assert addons == {k: {v} for k, v in ADDON_VERSIONS[version].items()}
    assert addons["kube-proxy"] == {v for v in addons["kube-proxy"] if v.startswith(f"v{version}.")}
    autoscalers = [
        r.inputs["values"]["image"]["tag"]
        for r in graph.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["chart"] == "cluster-autoscaler"
    ]
    assert autoscalers == [AUTOSCALER_IMAGE_TAGS[version]] * 2
    assert AUTOSCALER_IMAGE_TAGS[version].startswith(f"v{version}.")


def test_every_taggable_resource_names_its_component(stack):
    _, graph = stack
    components: dict[str, str] = {}
    for typ in TAGGABLE:
        for r in graph.of_type(typ):
            value = (r.inputs.get("tags") or {}).get(COMPONENT_TAG)
            assert value, f"{r.type} {r.name} has no {COMPONENT_TAG}"
            components[r.name] = value
    assert set(components.values()) == {
        "kms",
        "network",
        "eks",
        "autoscaling",
        "database",
        "cache",
        "backups",
        "audit",
        "registry",
        "secrets",
        "alerting",
        "cost",
        "dns",
        "ingress",
        "edge",
        "service",
        "monitoring",
    }
    for name, component in components.items():
        if "-db-" in name or name.endswith("-db"):
            assert component == "database", name
    for lt in graph.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        for spec in lt.inputs["tagSpecifications"]:
            assert spec["tags"][COMPONENT_TAG] == "eks"


def _regions(graph: GraphIndex, typ: str) -> list[str | None]:
    return sorted(graph.effective_region(r) or "" for r in graph.of_type(typ))


def test_one_multi_region_trail_into_the_log_archive(stack):
    name, graph = stack
    cfg = load_stack_config(name)
    (trail,) = graph.of_type("aws:cloudtrail/trail:Trail")
    assert graph.effective_region(trail) == cfg.primary_region
    assert trail.inputs["isMultiRegionTrail"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["enableLogFileValidation"] is True
    buckets = {b.inputs["bucket"]: b for b in graph.of_type("aws:s3/bucket:Bucket")}
    archive = buckets[trail.inputs["s3BucketName"]]
    assert "-audit-" in archive.name and graph.effective_region(archive) == cfg.primary_region
    keys = {k.outputs["arn"]: k for k in graph.of_type("aws:kms/key:Key")}
    assert keys[trail.inputs["kmsKeyId"]].inputs["tags"]["Purpose"] == "audit"


def test_log_archive_keeps_a_year_denies_deletes_and_replicates(stack):
    _, graph = stack
    (trail,) = graph.of_type("aws:cloudtrail/trail:Trail")
    (archive,) = [
        b
        for b in graph.of_type("aws:s3/bucket:Bucket")
        if b.inputs["bucket"] == trail.inputs["s3BucketName"]
    ]
    bucket = archive.outputs["id"]
    (policy,) = [
        p for p in graph.of_type("aws:s3/bucketPolicy:BucketPolicy") if p.inputs["bucket"] == bucket
    ]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    deny = statements["NobodyDeletes"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert set(deny["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
    writes = statements["LogDeliveryWritesItsPrefix"]
    assert set(writes["Principal"]["Service"]) == {
        "cloudtrail.amazonaws.com",
        "config.amazonaws.com",
    }
    assert "/AWSLogs/" in writes["Resource"]
    (lifecycle,) = [
        c
        for c in graph.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        if c.inputs["bucket"] == bucket
    ]
    (rule,) = lifecycle.inputs["rules"]
    assert rule["expiration"]["days"] == 365
    assert [t["storageClass"] for t in rule["transitions"]] == ["STANDARD_IA", "GLACIER"]
    (replication,) = [
        c
        for c in graph.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        if c.inputs["bucket"] == bucket
    ]
    assert "-audit-replica-" in replication.inputs["rules"][0]["destination"]["bucket"]


def test_guardduty_with_eks_protection_in_both_regions(stack):
    name, graph = stack
    cfg = load_stack_config(name)
    assert _regions(graph, "aws:guardduty/detector:Detector") == sorted(cfg.regions)
    features = {
        (graph.effective_region(f), f.inputs["name"]): f.inputs
        for f in graph.of_type("aws:guardduty/detectorFeature:DetectorFeature")
    }
    for region in cfg.regions:
        assert features[(region, "EKS_AUDIT_LOGS")]["status"] == "ENABLED"
        runtime = features[(region, "RUNTIME_MONITORING")]
        assert runtime["status"] == "ENABLED"
        assert runtime["additionalConfigurations"] == [
            {"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}
        ]


def test_config_records_both_regions_and_global_resources_once(stack):
    name, graph = stack
    cfg = load_stack_config(name)
    recorders = {graph.effective_region(r): r for r in graph.of_type("aws:cfg/recorder:Recorder")}
    assert sorted(recorders) == sorted(cfg.regions)
    assert recorders[cfg.primary_region].inputs["recordingGroup"] == {
        "allSupported": True,
        "includeGlobalResourceTypes": True,
    }
    assert recorders[cfg.dr_region].inputs["recordingGroup"]["includeGlobalResourceTypes"] is False
    # One role for both recorders: IAM is global.
    assert len({r.inputs["roleArn"] for r in recorders.values()}) == 1
    (trail,) = graph.of_type("aws:cloudtrail/trail:Trail")
    channels = graph.of_type("aws:cfg/deliveryChannel:DeliveryChannel")
    assert _regions(graph, "aws:cfg/deliveryChannel:DeliveryChannel") == sorted(cfg.regions)
    assert {c.inputs["s3BucketName"] for c in channels} == {trail.inputs["s3BucketName"]}
    statuses = graph.of_type("aws:cfg/recorderStatus:RecorderStatus")
    assert {s.inputs["name"] for s in statuses if s.inputs["isEnabled"]} == {
        r.inputs["name"] for r in recorders.values()
    }
    rules = graph.of_type("aws:cfg/rule:Rule")
    assert {r.inputs["source"]["sourceIdentifier"] for r in rules} >= {
        "CLOUD_TRAIL_ENABLED",
        "EKS_SECRETS_ENCRYPTED",
        "RDS_STORAGE_ENCRYPTED",
    }
