"""Edge protection, checked as a stack: every internet-facing load balancer is behind a WAF web
ACL with a per-IP rate-based rule and AWS managed rule groups, and the service's metrics path
is reachable from neither the load balancer nor an Ingress."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.helpers import (
    Res,
    as_list,
    get,
    is_false,
    is_set,
    of_type,
    refers_to,
    stack_rule,
    types,
)

LOAD_BALANCER = types("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
WEB_ACL = types("aws:wafv2/webAcl:WebAcl")
ASSOCIATION = types("aws:wafv2/webAclAssociation:WebAclAssociation")
INGRESS = types("kubernetes:networking.k8s.io/v1:Ingress")
METRICS_PATH = "/metrics"
MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"
# The Traefik middleware that refuses every request (infra/ingress.py).
DENY_ALL = "deny-all@kubernetescrd"


def _acl_problems(acl: Res) -> list[str]:
    rules = as_list(acl.get("rules"))
    problems = []
    if not any(is_set(get(r, "statement", "rateBasedStatement", "limit")) for r in rules):
        problems.append("has no rate-based rule")
    if not any(
        get(r, "statement", "managedRuleGroupStatement", "vendorName") == "AWS" for r in rules
    ):
        problems.append("uses no AWS managed rule group")
    return problems


def _public_albs(resources: list[Res]) -> Iterator[tuple[Res, list[Res]]]:
    """Each internet-facing ALB with the web ACLs attached to it."""
    acls = of_type(resources, WEB_ACL)
    associations = of_type(resources, ASSOCIATION)
    for lb in of_type(resources, LOAD_BALANCER):
        if not is_false(lb.get("internal")) or lb.get("loadBalancerType") not in (
            "application",
            None,
        ):
            continue  # internal, or an NLB (WAF cannot attach to one)
        yield (
            lb,
            [
                acl
                for a in associations
                if refers_to(a, "resourceArn", lb)
                for acl in acls
                if refers_to(a, "webAclArn", acl)
            ],
        )


def _waf(resources: list[Res], _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for lb, attached in _public_albs(resources):
        if not attached:
            yield f"Load balancer '{lb.name}' faces the internet without a WAF web ACL.", lb.urn
            continue
        problems = _acl_problems(attached[0])
        if problems:
            yield (
                f"WAF web ACL '{attached[0].name}' in front of '{lb.name}' {', '.join(problems)}.",
                attached[0].urn,
            )


def _blocks_metrics(rule: Any) -> bool:
    match = get(rule, "statement", "byteMatchStatement")
    return (
        # Both are empty objects ({}) when set: present is what counts.
        get(rule, "action", "block") is not None
        and get(match, "fieldToMatch", "uriPath") is not None
        and get(match, "positionalConstraint") == "STARTS_WITH"
        and get(match, "searchString") == METRICS_PATH
    )


def _routes_metrics(path: Any) -> bool:
    """Whether an Ingress path sends /metrics to its backend."""
    value, kind = get(path, "path"), get(path, "pathType")
    if not isinstance(value, str):
        return False
    if kind == "Prefix":
        prefix = value.rstrip("/")
        return prefix == METRICS_PATH or METRICS_PATH.startswith(prefix + "/")
    return value.rstrip("/") == METRICS_PATH


def _denies(ingress: Res) -> bool:
    chain = ingress.get("metadata", "annotations", MIDDLEWARES)
    return isinstance(chain, str) and any(m.strip().endswith(DENY_ALL) for m in chain.split(","))


def _metrics(resources: list[Res], _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for lb, attached in _public_albs(resources):
        for acl in attached:
            if not any(_blocks_metrics(r) for r in as_list(acl.get("rules"))):
                yield (
                    f"WAF web ACL '{acl.name}' in front of '{lb.name}' lets {METRICS_PATH} "
                    "through from the internet.",
                    acl.urn,
                )
    ingresses = of_type(resources, INGRESS)
    # Hosts whose metrics prefix an Ingress refuses (Traefik prefers that longer rule).
    refused = {
        get(rule, "host")
        for i in ingresses
        if _denies(i)
        for rule in as_list(i.get("spec", "rules"))
        for p in as_list(get(rule, "http", "paths"))
        if get(p, "pathType") == "Prefix" and get(p, "path") == METRICS_PATH
    }
    for i in ingresses:
        if _denies(i):
            continue
        for rule in as_list(i.get("spec", "rules")):
            host = get(rule, "host")
            if host not in refused and any(
                _routes_metrics(p) for p in as_list(get(rule, "http", "paths"))
            ):
                yield (
                    f"Ingress '{i.name}' routes {METRICS_PATH} on host '{host}' to its backend.",
                    i.urn,
                )


RULES = [
    stack_rule(
        name="aws-waf-on-public-load-balancers",
        description="Internet-facing ALBs sit behind a WAF web ACL with a per-IP rate-based "
        "rule and AWS managed rule groups.",
        area="edge",
        check=_waf,
        fix="associate an aws.wafv2.WebAcl (REGIONAL) with the ALB (aws.wafv2.WebAclAssociation)"
        " holding a rateBasedStatement rule and AWS managed rule groups (infra/edge.py).",
    ),
    stack_rule(
        name="edge-metrics-not-public",
        description=f"{METRICS_PATH} is scraped inside the cluster only: the WAF web ACL of each "
        "internet-facing ALB blocks it and no Ingress routes it to a backend.",
        area="edge",
        check=_metrics,
        fix=f"give the web ACL a block rule (byteMatchStatement on uriPath STARTS_WITH "
        f"{METRICS_PATH}) and refuse the {METRICS_PATH} prefix per host with an Ingress carrying "
        f"the traefik-{DENY_ALL} middleware (infra/edge.py, infra/service/api.py).",
    ),
]
