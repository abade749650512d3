"""Cost allocation per component: every taggable AWS resource carries `utp:component`
(infra/_tags.py adds it), so the bill splits by component and nothing is left unattributed."""

from __future__ import annotations

from collections.abc import Iterator

from policies.helpers import UNKNOWN, Res, as_map, resource_rule, types

COMPONENT_TAG = "utp:component"

# The resource types the stacks create whose pulumi-aws 7.51.1 inputs take a `tags` map (a test
# checks every such type recorded in infra/data/schemas/ is listed; the Shield protection is
# created only with utp:edge.shieldAdvanced).
TAGGABLE = types(
    "aws:acm/certificate:Certificate",
    "aws:budgets/budget:Budget",
    "aws:cfg/rule:Rule",
    "aws:cloudtrail/trail:Trail",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/eip:Eip",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ecr/repository:Repository",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/addon:Addon",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:guardduty/detector:Detector",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/role:Role",
    "aws:kms/key:Key",
    "aws:lb/listener:Listener",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:rds/instance:Instance",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:route53/healthCheck:HealthCheck",
    "aws:route53/zone:Zone",
    "aws:s3/bucket:Bucket",
    "aws:secretsmanager/secret:Secret",
    "aws:shield/protection:Protection",
    "aws:sns/topic:Topic",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:wafv2/webAcl:WebAcl",
)


def _component_tag(res: Res) -> Iterator[str]:
    tags = res.get("tags")
    if tags is UNKNOWN:
        return
    value = as_map(tags).get(COMPONENT_TAG)
    if value is UNKNOWN:
        return
    if not isinstance(value, str) or not value:
        yield f"has no {COMPONENT_TAG} tag: its cost is attributed to no component."


RULES = [
    resource_rule(
        name="aws-cost-allocation-component-tag",
        description=f"Every taggable AWS resource carries the {COMPONENT_TAG} cost allocation tag.",
        area="cost",
        types=TAGGABLE,
        check=_component_tag,
        fix="create the resource under a component whose options carry"
        " transformations=[component_tag(<name>)] (infra/_tags.py), or set"
        f" tags[{COMPONENT_TAG!r}].",
    ),
]
