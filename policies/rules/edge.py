"""Edge protection, checked as a stack: every internet-facing load balancer is behind a WAF web
ACL with a per-IP rate-based rule and AWS managed rule groups."""

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


def _waf(resources: list[Res], _config: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    acls = of_type(resources, WEB_ACL)
    associations = of_type(resources, ASSOCIATION)
    for lb in of_type(resources, LOAD_BALANCER):
        if not is_false(lb.get("internal")) or lb.get("loadBalancerType") not in (
            "application",
            None,
        ):
            continue  # internal, or an NLB (WAF cannot attach to one)
        attached = [
            acl
            for a in associations
            if refers_to(a, "resourceArn", lb)
            for acl in acls
            if refers_to(a, "webAclArn", acl)
        ]
        if not attached:
            yield f"Load balancer '{lb.name}' faces the internet without a WAF web ACL.", lb.urn
            continue
        problems = _acl_problems(attached[0])
        if problems:
            yield (
                f"WAF web ACL '{attached[0].name}' in front of '{lb.name}' {', '.join(problems)}.",
                attached[0].urn,
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
]
