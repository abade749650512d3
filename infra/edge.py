"""Edge protection for one region: an internet-facing ALB with AWS WAF in front of Traefik.

Why an ALB and not CloudFront, and not the Load Balancer Controller: WAF cannot attach to the
NLB Traefik had. CloudFront would need a second certificate in us-east-1, an origin that only
it may reach (CloudFront's address ranges change, Route 53 health checks cannot send a secret
origin header) and would take failover over from Route 53. The AWS Load Balancer Controller
would add a chart, CRDs and an IAM policy only to register targets. Here the ALB forwards
to Traefik's fixed HTTPS NodePort on the default node group's instances (an Auto Scaling
attachment, so nodes the Cluster Autoscaler adds are registered too), and appends the client's
address to X-Forwarded-For, which Traefik trusts from inside the VPC only.

Shield: Standard protects every ALB at no cost. Shield Advanced is an account subscription
(about $3,000 a month, one-year commitment) bought outside this program; with
`shield_advanced` the ALB is added to it as a protected resource.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

# Traefik's websecure entrypoint as a fixed NodePort (infra/ingress.py): the target group's port.
TRAEFIK_HTTPS_NODE_PORT = 30443
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The service's Prometheus exposition: Prometheus scrapes the pods inside the cluster, so no
# request from the internet may reach it (WAF blocks it here, Traefik refuses it too).
METRICS_PATH = "/metrics"
# AWS managed rule groups, in evaluation order after the rate rule.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)


@dataclass(frozen=True, kw_only=True)
class EdgeArgs:
    region: str
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    public_subnet_ids: Sequence[pulumi.Input[str]]
    # The security group the nodes carry (the cluster security group): opened to the ALB only.
    node_security_group_id: pulumi.Input[str]
    node_group: aws.eks.NodeGroup
    zone_id: pulumi.Input[str]
    hostnames: tuple[str, ...]  # the certificate's names: the regional name first
    health_path: str  # never rate-limited: Route 53's health checkers all share a few addresses
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    # Requests per client IP per 5 minutes before WAF blocks it (Traefik's own limit is finer).
    rate_limit_per_5_minutes: int = 2000
    shield_advanced: bool = False
    production: bool = False


class Edge(pulumi.ComponentResource):
    """Creates an ACM certificate (DNS-validated in the hosted zone), an internet-facing ALB
    (HTTPS with TLS 1.2+, HTTP redirected, invalid headers dropped) forwarding to Traefik's
    HTTPS NodePort, a WAF web ACL (a rule blocking the metrics path, a per-IP rate-based rule
    that spares the health-check path, the IP reputation, common and known-bad-inputs managed
    rule groups) with KMS-encrypted logs, and, with `shield_advanced`, a Shield Advanced
    protection."""

    load_balancer: aws.lb.LoadBalancer
    web_acl: aws.wafv2.WebAcl
    hostname: pulumi.Output[str]

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:edge:Edge", name, None, opts)
        if not args.hostnames:
            raise ValueError("the edge certificate needs at least one hostname")
        if not args.health_path.startswith("/"):
            raise ValueError("health_path must be an absolute path")
        child = pulumi.ResourceOptions(parent=self)
        certificate = self._certificate(name, args)
        alb_sg = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            description=f"{name} ALB: HTTPS and HTTP from the internet, to the nodes only",
            vpc_id=args.vpc_id,
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "cidr_blocks": ["0.0.0.0/0"],
                }
                for port in (443, 80)
            ],
            egress=[
                {
                    "protocol": "tcp",
                    "from_port": TRAEFIK_HTTPS_NODE_PORT,
                    "to_port": TRAEFIK_HTTPS_NODE_PORT,
                    "cidr_blocks": [args.vpc_cidr],
                }
            ],
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-nodes-from-alb",
            security_group_id=args.node_security_group_id,
            referenced_security_group_id=alb_sg.id,
            ip_protocol="tcp",
            from_port=TRAEFIK_HTTPS_NODE_PORT,
            to_port=TRAEFIK_HTTPS_NODE_PORT,
            description="ALB to Traefik's HTTPS NodePort",
            opts=child,
        )
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb",
            internal=False,
            load_balancer_type="application",
            subnets=list(args.public_subnet_ids),
            security_groups=[alb_sg.id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.production,
            idle_timeout=60,
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-traefik",
            port=TRAEFIK_HTTPS_NODE_PORT,
            protocol="HTTPS",
            target_type="instance",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            # Any HTTP answer means Traefik is up; Route 53 checks the service end to end.
            health_check={
                "protocol": "HTTPS",
                "path": "/",
                "matcher": "200-499",
                "interval": 15,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            opts=child,
        )
        aws.autoscaling.Attachment(
            f"{name}-traefik-nodes",
            autoscaling_group_name=args.node_group.resources.apply(
                lambda r: (
                    (r[0].autoscaling_groups[0].name or "") if r and r[0].autoscaling_groups else ""
                )
            ),
            lb_target_group_arn=target_group.arn,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate.certificate_arn,
            default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=self.load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
                }
            ],
            opts=child,
        )
        self.web_acl = self._web_acl(name, args)
        aws.wafv2.WebAclAssociation(
            f"{name}-waf-alb",
            resource_arn=self.load_balancer.arn,
            web_acl_arn=self.web_acl.arn,
            opts=child,
        )
        # WAF requires the aws-waf-logs- prefix for a CloudWatch Logs destination.
        waf_logs = aws.cloudwatch.LogGroup(
            f"{name}-waf-logs",
            name=f"aws-waf-logs-{name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[waf_logs.arn],
            opts=child,
        )
        if args.shield_advanced:
            aws.shield.Protection(
                f"{name}-shield",
                name=f"{name}-alb",
                resource_arn=self.load_balancer.arn,
                opts=child,
            )
        self.hostname = self.load_balancer.dns_name
        self.register_outputs({"hostname": self.hostname, "web_acl_arn": self.web_acl.arn})

    def _certificate(self, name: str, args: EdgeArgs) -> aws.acm.CertificateValidation:
        child = pulumi.ResourceOptions(parent=self)
        certificate = aws.acm.Certificate(
            f"{name}-cert",
            domain_name=args.hostnames[0],
            subject_alternative_names=list(args.hostnames[1:]) or None,
            validation_method="DNS",
            opts=child,
        )
        records = []
        for i in range(len(args.hostnames)):

            def option(field: str, i: int = i) -> pulumi.Output[str]:
                value: pulumi.Output[str] = certificate.domain_validation_options.apply(
                    lambda options: (
                        str(getattr(options[i], field)) if options and len(options) > i else ""
                    )
                )
                return value

            records.append(
                aws.route53.Record(
                    f"{name}-cert-validation-{i}",
                    zone_id=args.zone_id,
                    name=option("resource_record_name"),
                    type=option("resource_record_type"),
                    records=[option("resource_record_value")],
                    ttl=300,
                    # Both regions' certificates cover the API name: ACM asks for the same
                    # validation record in each, so the second region's write is the same value.
                    allow_overwrite=True,
                    opts=child,
                )
            )
        return aws.acm.CertificateValidation(
            f"{name}-cert-validation",
            certificate_arn=certificate.arn,
            validation_record_fqdns=[r.fqdn for r in records],
            opts=child,
        )

    def _web_acl(self, name: str, args: EdgeArgs) -> aws.wafv2.WebAcl:
        def visibility(metric: str) -> dict[str, Any]:
            return {
                "cloudwatch_metrics_enabled": True,
                "sampled_requests_enabled": True,
                "metric_name": metric,
            }

        health = {
            "byte_match_statement": {
                "field_to_match": {"uri_path": {}},
                "positional_constraint": "STARTS_WITH",
                "search_string": args.health_path,
                "text_transformations": [{"priority": 0, "type": "NONE"}],
            }
        }
        rules: list[dict[str, Any]] = [
            {
                "name": "block-metrics",
                "priority": 0,
                "action": {"block": {}},
                "statement": {
                    "byte_match_statement": {
                        "field_to_match": {"uri_path": {}},
                        "positional_constraint": "STARTS_WITH",
                        "search_string": METRICS_PATH,
                        # Match what could still route to it: the service decodes the path
                        # (/%6detrics is /metrics) and a path may be spelled //metrics.
                        "text_transformations": [
                            {"priority": 0, "type": "URL_DECODE"},
                            {"priority": 1, "type": "NORMALIZE_PATH"},
                            {"priority": 2, "type": "LOWERCASE"},
                        ],
                    }
                },
                "visibility_config": visibility(f"{name}-block-metrics"),
            },
            {
                "name": "rate-per-ip",
                "priority": 1,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {
                        "limit": args.rate_limit_per_5_minutes,
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": 300,
                        "scope_down_statement": {"not_statement": {"statement": health}},
                    }
                },
                "visibility_config": visibility(f"{name}-rate-per-ip"),
            },
        ]
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=2):
            rules.append(
                {
                    "name": group,
                    "priority": priority,
                    "override_action": {"none": {}},
                    "statement": {
                        "managed_rule_group_statement": {"vendor_name": "AWS", "name": group}
                    },
                    "visibility_config": visibility(f"{name}-{group}"),
                }
            )
        return aws.wafv2.WebAcl(
            f"{name}-waf",
            name=f"{name}-waf",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=rules,
            visibility_config=visibility(f"{name}-waf"),
            opts=pulumi.ResourceOptions(parent=self),
        )
