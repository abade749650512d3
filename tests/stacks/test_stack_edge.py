"""Both stacks: each region's traffic enters through an ALB behind WAF, the regional names point
at the ALBs, and the health check Route 53 sends is never rate-limited by Traefik."""

from __future__ import annotations

import pytest

from infra.dns import HEALTH_PATH
from infra.edge import METRICS_PATH
from infra.ingress import DENY_ALL_MIDDLEWARE, RATE_LIMIT_MIDDLEWARE
from stacks.config import ConfigError, load_stack_config, parse_config
from stacks.regions import GraphIndex


@pytest.fixture(params=["staging", "production"])
def stack(request, staging, production) -> tuple[str, GraphIndex]:
    return request.param, {"staging": staging, "production": production}[request.param]


def test_regional_names_point_at_albs_behind_waf(stack):
    name, graph = stack
    cfg = load_stack_config(name)
    albs = {graph.effective_region(a): a for a in graph.of_type("aws:lb/loadBalancer:LoadBalancer")}
    assert sorted(albs) == sorted(cfg.regions)
    associations = graph.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert {a.inputs["resourceArn"] for a in associations} == {
        a.outputs["arn"] for a in albs.values()
    }
    regional = {
        r.inputs["name"]: r.inputs["records"]
        for r in graph.of_type("aws:route53/record:Record")
        if r.inputs.get("type") == "CNAME"
        and not r.inputs.get("failoverRoutingPolicies")
        and r.inputs["name"].endswith(cfg.dns.api_hostname)
    }
    assert sorted(v for records in regional.values() for v in records) == sorted(
        a.outputs["dnsName"] for a in albs.values()
    )
    # No NLB any more: Traefik is a NodePort behind the ALB.
    assert not [
        s
        for s in graph.of_type("kubernetes:core/v1:Service")
        if (s.inputs.get("spec") or {}).get("type") == "LoadBalancer"
    ]


def test_the_health_check_path_is_routed_without_the_rate_limit(stack):
    _, graph = stack
    ingresses = {
        i.inputs["metadata"]["name"]: i.inputs
        for i in graph.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    }
    annotations = "traefik.ingress.kubernetes.io/router.middlewares"
    assert ingresses["utp"]["metadata"]["annotations"][annotations] == RATE_LIMIT_MIDDLEWARE
    health = ingresses["utp-health"]
    assert annotations not in health["metadata"]["annotations"]
    (path,) = {p["path"] for rule in health["spec"]["rules"] for p in rule["http"]["paths"]}
    assert path == HEALTH_PATH
    assert {r["host"] for r in health["spec"]["rules"]} == {
        r["host"] for r in ingresses["utp"]["spec"]["rules"]
    }
    checks = graph.of_type("aws:route53/healthCheck:HealthCheck")
    assert {c.inputs["resourcePath"] for c in checks} == {HEALTH_PATH}


def test_metrics_are_refused_at_the_edge_and_scraped_inside(stack):
    _, graph = stack
    ingresses = {
        i.inputs["metadata"]["name"]: i.inputs
        for i in graph.of_type("kubernetes:networking.k8s.io/v1:Ingress")
    }
    annotations = "traefik.ingress.kubernetes.io/router.middlewares"
    refused = ingresses["utp-metrics"]
    assert refused["metadata"]["annotations"][annotations] == DENY_ALL_MIDDLEWARE
    paths = [p for rule in refused["spec"]["rules"] for p in rule["http"]["paths"]]
    assert {(p["path"], p["pathType"]) for p in paths} == {(METRICS_PATH, "Prefix")}
    # Every host the catch-all Ingress serves has the longer, refusing rule.
    assert {r["host"] for r in refused["spec"]["rules"]} == {
        r["host"] for r in ingresses["utp"]["spec"]["rules"]
    }
    for acl in graph.of_type("aws:wafv2/webAcl:WebAcl"):
        rules = {r["name"]: r for r in acl.inputs["rules"]}
        match = rules["block-metrics"]["statement"]["byteMatchStatement"]
        assert match["searchString"] == METRICS_PATH
    monitors = [
        m
        for m in graph.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        if m.inputs["metadata"]["name"] == "utp"
    ]
    assert monitors
    for monitor in monitors:  # Prometheus scrapes the pods' port, not the ingress
        assert monitor.inputs["spec"]["endpoints"] == [
            {"port": "http", "path": METRICS_PATH, "interval": "30s"}
        ]


def test_edge_config_is_validated():
    base = {
        "utp:environment": "staging",
        "utp:service": {"imageTag": "v1.0.0"},
        "utp:dns": {
            "zone": "example.com",
            "apiHostname": "api.example.com",
            "acmeEmail": "ops@example.com",
        },
        "utp:budget": {"monthlyUsd": 100, "emails": ["ops@example.com"]},
        "utp:cluster": {
            "deployRoleArn": "arn:aws:iam::111122223333:role/deploy",
            "publicAccessCidrs": ["203.0.113.0/24"],
        },
    }
    assert parse_config(base).edge.shield_advanced is False
    on = parse_config({**base, "utp:edge": {"shieldAdvanced": True}})
    assert on.edge.shield_advanced is True
    with pytest.raises(ConfigError, match=r"utp:edge\.rateLimitPer5Minutes"):
        parse_config({**base, "utp:edge": {"rateLimitPer5Minutes": 5}})
