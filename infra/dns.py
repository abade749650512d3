"""Route 53: the hosted zone, regional names, and health-checked failover for the API hostname."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# What Route 53 checks in each region, end to end; the edge never rate-limits it.
# The health checks and failover records, named once: `utp-infra dr` (stacks/dr/) finds and
# rewrites these, and docs/operations.md's failover budget counts on the interval, threshold and
# TTL (Route 53 marks an endpoint unhealthy after FAILURE_THRESHOLD failed checks).
HEALTH_PATH = "/health/ready"
REQUEST_INTERVAL_SECONDS = 10
FAILURE_THRESHOLD = 3
RECORD_TTL_SECONDS = 60
# The set identifier of each failover record, by its failover type.
SET_IDENTIFIERS = {"PRIMARY": "primary", "SECONDARY": "secondary"}


@dataclass(frozen=True, kw_only=True)
class HostedZoneArgs:
    zone: str
    production: bool = False


class HostedZone(pulumi.ComponentResource):
    """Creates the public hosted zone the API hostname lives in (delegate it from the parent)."""

    zone: aws.route53.Zone

    def __init__(self, name: str, args: HostedZoneArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:dns:HostedZone", name, None, opts)
        self.zone = aws.route53.Zone(
            f"{name}-zone",
            name=args.zone,
            comment="Universal Translator Pro",
            force_destroy=not args.production,
            opts=pulumi.ResourceOptions(parent=self, protect=args.production),
        )
        self.register_outputs(
            {"zone_id": self.zone.zone_id, "name_servers": self.zone.name_servers}
        )


@dataclass(frozen=True, kw_only=True)
class RegionalEndpoint:
    name: str  # regional hostname served by that region's ingress, e.g. use1.api.example.com
    target: pulumi.Input[str]  # that ingress load balancer's DNS name


@dataclass(frozen=True, kw_only=True)
class FailoverDnsArgs:
    zone_id: pulumi.Input[str]
    hostname: str
    primary: RegionalEndpoint
    secondary: RegionalEndpoint
    alarm_topic_arn: pulumi.Input[str]
    health_path: str = HEALTH_PATH
    ttl: int = RECORD_TTL_SECONDS


class FailoverDns(pulumi.ComponentResource):
    """Creates a regional CNAME per region, an HTTPS health check on each region's
    `/health/ready`, PRIMARY and SECONDARY failover records for the API hostname, and a
    CloudWatch alarm (us-east-1, where Route 53 metrics live) when the primary check fails.
    """

    primary_health_check: aws.route53.HealthCheck
    secondary_health_check: aws.route53.HealthCheck

    def __init__(
        self, name: str, args: FailoverDnsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("utp:dns:FailoverDns", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        checks: dict[str, aws.route53.HealthCheck] = {}
        for role, endpoint in (("primary", args.primary), ("secondary", args.secondary)):
            aws.route53.Record(
                f"{name}-{role}-regional",
                zone_id=args.zone_id,
                name=endpoint.name,
                type="CNAME",
                ttl=args.ttl,
                records=[endpoint.target],
                opts=child,
            )
            checks[role] = aws.route53.HealthCheck(
                f"{name}-{role}-health",
                type="HTTPS",
                fqdn=endpoint.name,
                port=443,
                resource_path=args.health_path,
                enable_sni=True,
                request_interval=REQUEST_INTERVAL_SECONDS,
                failure_threshold=FAILURE_THRESHOLD,
                measure_latency=True,
                tags={"Name": f"{endpoint.name}{args.health_path}"},
                opts=child,
            )
        for failover, role in SET_IDENTIFIERS.items():
            endpoint = args.primary if role == "primary" else args.secondary
            aws.route53.Record(
                f"{name}-{role}",
                zone_id=args.zone_id,
                name=args.hostname,
                type="CNAME",
                ttl=args.ttl,
                records=[endpoint.name],
                set_identifier=role,
                failover_routing_policies=[{"type": failover}],
                health_check_id=checks[role].id,
                opts=child,
            )
        self.primary_health_check = checks["primary"]
        self.secondary_health_check = checks["secondary"]
        aws.cloudwatch.MetricAlarm(
            f"{name}-primary-unhealthy",
            alarm_description=f"{args.hostname}: primary region failing {args.health_path}",
            namespace="AWS/Route53",
            metric_name="HealthCheckStatus",
            dimensions={"HealthCheckId": checks["primary"].id},
            statistic="Minimum",
            period=60,
            evaluation_periods=2,
            threshold=1,
            comparison_operator="LessThanThreshold",
            treat_missing_data="breaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            opts=child,
        )
        self.register_outputs({"hostname": args.hostname})
