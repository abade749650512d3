"""The edge: ALB, certificate, WAF and Shield per region, and Traefik behind it, as recorded."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from infra.edge import MANAGED_RULE_GROUPS, METRICS_PATH, TRAEFIK_HTTPS_NODE_PORT, Edge, EdgeArgs
from infra.ingress import DENY_ALL_MIDDLEWARE, RATE_LIMIT_MIDDLEWARE, Ingress, IngressArgs
from tests.infra.support import aws_opts

HOSTS = ("use1.api.example.com", "api.example.com")


def _edge(shield: bool = False, hostnames: tuple[str, ...] = HOSTS, health: str = "/health/ready"):
    def program() -> None:
        opts = aws_opts()
        group = aws.eks.NodeGroup(
            "nodes",
            cluster_name="c",
            node_role_arn="arn:aws:iam::123456789012:role/n",
            subnet_ids=["subnet-a"],
            scaling_config={"min_size": 2, "max_size": 3, "desired_size": 2},
            opts=opts,
        )
        Edge(
            "e",
            EdgeArgs(
                region="us-east-1",
                vpc_id="vpc-1",
                vpc_cidr="10.10.0.0/16",
                public_subnet_ids=["subnet-p1", "subnet-p2"],
                node_security_group_id="sg-cluster",
                node_group=group,
                zone_id="Z1",
                hostnames=hostnames,
                health_path=health,
                logs_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs",
                log_retention_days=30,
                shield_advanced=shield,
            ),
            opts=opts,
        )

    return program


def test_alb_forwards_https_to_traefiks_node_port_on_the_node_groups_instances(build):
    g = build(_edge())
    (alb,) = g.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is False and alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["dropInvalidHeaderFields"] is True
    (tg,) = g.of_type("aws:lb/targetGroup:TargetGroup")
    assert (tg.inputs["port"], tg.inputs["protocol"]) == (TRAEFIK_HTTPS_NODE_PORT, "HTTPS")
    (attachment,) = g.of_type("aws:autoscaling/attachment:Attachment")
    assert attachment.inputs["autoscalingGroupName"].startswith("eks-nodes")
    assert attachment.inputs["lbTargetGroupArn"] == tg.outputs["arn"]
    listeners = {
        listener.inputs["port"]: listener.inputs
        for listener in g.of_type("aws:lb/listener:Listener")
    }
    assert listeners[443]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[443]["defaultActions"][0]["targetGroupArn"] == tg.outputs["arn"]
    assert listeners[80]["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
    (rule,) = g.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule.inputs["securityGroupId"] == "sg-cluster"
    assert rule.inputs["fromPort"] == rule.inputs["toPort"] == TRAEFIK_HTTPS_NODE_PORT


def test_certificate_covers_both_names_and_is_validated_in_the_zone(build):
    g = build(_edge())
    (cert,) = g.of_type("aws:acm/certificate:Certificate")
    assert cert.inputs["domainName"] == HOSTS[0]
    assert cert.inputs["subjectAlternativeNames"] == [HOSTS[1]]
    records = g.of_type("aws:route53/record:Record")
    assert len(records) == 2 and all(r.inputs["allowOverwrite"] for r in records)
    assert {r.inputs["type"] for r in records} == {"CNAME"}
    (validation,) = g.of_type("aws:acm/certificateValidation:CertificateValidation")
    assert sorted(validation.inputs["validationRecordFqdns"]) == sorted(
        r.outputs["fqdn"] for r in records
    )


def test_waf_rate_limits_every_path_but_the_health_check(build):
    g = build(_edge())
    (acl,) = g.of_type("aws:wafv2/webAcl:WebAcl")
    assert acl.inputs["scope"] == "REGIONAL"
    rules = {r["name"]: r for r in acl.inputs["rules"]}
    rate = rules["rate-per-ip"]["statement"]["rateBasedStatement"]
    assert rate["aggregateKeyType"] == "IP" and rate["limit"] == 2000
    spared = rate["scopeDownStatement"]["notStatement"]["statement"]["byteMatchStatement"]
    assert spared["searchString"] == "/health/ready"
    assert spared["fieldToMatch"] == {"uriPath": {}}
    assert rules["rate-per-ip"]["action"] == {"block": {}}
    for group in MANAGED_RULE_GROUPS:
        assert rules[group]["statement"]["managedRuleGroupStatement"]["vendorName"] == "AWS"
    (association,) = g.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    (alb,) = g.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert association.inputs["resourceArn"] == alb.outputs["arn"]
    (logging,) = g.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    (group,) = g.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"].startswith("aws-waf-logs-") and group.inputs["kmsKeyId"]
    assert logging.inputs["logDestinationConfigs"] == [group.outputs["arn"]]
    assert not g.of_type("aws:shield/protection:Protection")


def test_waf_blocks_the_metrics_path_first_however_it_is_spelled(build):
    g = build(_edge())
    (acl,) = g.of_type("aws:wafv2/webAcl:WebAcl")
    first = min(acl.inputs["rules"], key=lambda r: r["priority"])
    assert first["name"] == "block-metrics" and first["action"] == {"block": {}}
    match = first["statement"]["byteMatchStatement"]
    assert match["fieldToMatch"] == {"uriPath": {}}
    assert (match["positionalConstraint"], match["searchString"]) == ("STARTS_WITH", METRICS_PATH)
    # /%6Detrics and //Metrics reach the service's /metrics route too.
    steps = sorted(match["textTransformations"], key=lambda t: t["priority"])
    assert [t["type"] for t in steps] == ["URL_DECODE", "NORMALIZE_PATH", "LOWERCASE"]
    priorities = [r["priority"] for r in acl.inputs["rules"]]
    assert len(set(priorities)) == len(priorities)


def test_shield_advanced_protects_the_alb_when_enabled(build):
    g = build(_edge(shield=True))
    (protection,) = g.of_type("aws:shield/protection:Protection")
    (alb,) = g.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert protection.inputs["resourceArn"] == alb.outputs["arn"]


@pytest.mark.parametrize(
    ("hostnames", "health", "message"),
    [((), "/health/ready", "at least one hostname"), (HOSTS, "health", "absolute path")],
)
def test_edge_refuses_what_cannot_work(build, hostnames, health, message):
    with pytest.raises(ValueError, match=message):
        build(_edge(hostnames=hostnames, health=health))


def test_traefik_sees_client_ips_and_routers_opt_into_the_rate_limit(build):
    def program() -> None:
        opts = aws_opts()
        provider = k8s.Provider("k8s", kubeconfig="{}")
        Ingress(
            "i",
            IngressArgs(
                region="us-east-1",
                zone_id="Z1",
                acme_email="ops@example.com",
                acme_staging=True,
                oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/x",
                oidc_issuer="x",
                vpc_cidr="10.10.0.0/16",
            ),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(providers=[provider])),
        )

    g = build(program)
    (traefik,) = [
        r for r in g.of_type("kubernetes:helm.sh/v3:Release") if r.inputs["chart"] == "traefik"
    ]
    values = traefik.inputs["values"]
    assert values["service"] == {"type": "NodePort"}
    websecure = values["ports"]["websecure"]
    assert websecure["nodePort"] == TRAEFIK_HTTPS_NODE_PORT
    assert websecure["forwardedHeaders"] == {"trustedIPs": ["10.10.0.0/16"]}
    assert RATE_LIMIT_MIDDLEWARE not in websecure["middlewares"]
    assert values["ports"]["web"]["expose"] == {"default": False}
    middlewares = {
        m.inputs["metadata"]["name"]: m.inputs["spec"]
        for m in g.of_type("kubernetes:traefik.io/v1alpha1:Middleware")
    }
    assert middlewares["rate-limit"]["rateLimit"]["sourceCriterion"] == {"ipStrategy": {"depth": 1}}
    # Refuses every request from outside the pod: nothing through the ALB comes from loopback.
    assert middlewares["deny-all"] == {"ipAllowList": {"sourceRange": ["127.0.0.1/32"]}}
    assert DENY_ALL_MIDDLEWARE == "traefik-deny-all@kubernetescrd"
