"""Security groups and VPC flow logs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policies.helpers import (
    ADVISORY,
    Res,
    as_int,
    as_list,
    as_str,
    get,
    of_type,
    refers_to,
    resource_rule,
    stack_rule,
    types,
)

SECURITY_GROUP = types("aws:ec2/securityGroup:SecurityGroup")
SECURITY_GROUP_RULE = types("aws:ec2/securityGroupRule:SecurityGroupRule")
INGRESS_RULE = types("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
VPC = types("aws:ec2/vpc:Vpc")
FLOW_LOG = types("aws:ec2/flowLog:FlowLog")

WORLD = frozenset({"0.0.0.0/0", "::/0"})
ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
DATA_PORTS = {5432: "PostgreSQL", 6379: "Redis"}


@dataclass(frozen=True)
class Ingress:
    protocol: str
    from_port: int | None
    to_port: int | None
    cidrs: frozenset[str]

    def opens(self, port: int) -> bool:
        if self.protocol in ("-1", "all"):
            return True
        if self.protocol not in ("tcp", "6"):
            return False
        low = self.from_port if self.from_port is not None else 0
        high = self.to_port if self.to_port is not None else 65535
        return low <= port <= high


def _ingress_of(res: Res) -> list[Ingress]:
    if res.type in SECURITY_GROUP:
        return [
            Ingress(
                protocol=as_str(get(rule, "protocol")).lower(),
                from_port=as_int(get(rule, "fromPort")),
                to_port=as_int(get(rule, "toPort")),
                cidrs=frozenset(
                    as_str(c)
                    for c in as_list(get(rule, "cidrBlocks")) + as_list(get(rule, "ipv6CidrBlocks"))
                ),
            )
            for rule in as_list(res.get("ingress"))
        ]
    if res.type in SECURITY_GROUP_RULE:
        if res.get("type") != "ingress":
            return []
        cidrs = as_list(res.get("cidrBlocks")) + as_list(res.get("ipv6CidrBlocks"))
        return [
            Ingress(
                protocol=as_str(res.get("protocol")).lower(),
                from_port=as_int(res.get("fromPort")),
                to_port=as_int(res.get("toPort")),
                cidrs=frozenset(as_str(c) for c in cidrs),
            )
        ]
    if res.type in INGRESS_RULE:
        return [
            Ingress(
                protocol=as_str(res.get("ipProtocol")).lower(),
                from_port=as_int(res.get("fromPort")),
                to_port=as_int(res.get("toPort")),
                cidrs=frozenset(as_str(c) for c in (res.get("cidrIpv4"), res.get("cidrIpv6")) if c),
            )
        ]
    return []


def _world_open(ports: Mapping[int, str]) -> Any:
    def check(res: Res) -> Iterator[str]:
        for ingress in _ingress_of(res):
            if not (ingress.cidrs & WORLD):
                continue
            for port, service in ports.items():
                if ingress.opens(port):
                    yield f"{service} (port {port}) is open to the internet."

    return check


def _flow_logs(
    resources: list[Res], _config: Mapping[str, Any]
) -> Iterator[tuple[str, str | None]]:
    logs = of_type(resources, FLOW_LOG)
    for vpc in of_type(resources, VPC):
        if not any(refers_to(log, "vpcId", vpc) for log in logs):
            yield f"VPC '{vpc.name}' has no flow log.", vpc.urn


_SG_TYPES = SECURITY_GROUP | SECURITY_GROUP_RULE | INGRESS_RULE

RULES = [
    resource_rule(
        name="aws-ec2-no-public-admin-ports",
        description="Security groups do not open SSH (22) or RDP (3389) to 0.0.0.0/0 or ::/0.",
        area="network",
        types=_SG_TYPES,
        check=_world_open(ADMIN_PORTS),
        fix="remove the rule; reach nodes through SSM Session Manager or a bastion's security "
        "group.",
    ),
    resource_rule(
        name="aws-ec2-no-public-data-ports",
        description="Security groups do not open PostgreSQL (5432) or Redis (6379) to the "
        "internet.",
        area="network",
        types=_SG_TYPES,
        check=_world_open(DATA_PORTS),
        fix="allow the port only from the cluster's or the application's security group "
        "(referencedSecurityGroupId / sourceSecurityGroupId).",
    ),
    stack_rule(
        name="aws-ec2-vpc-flow-logs",
        description="Every VPC records flow logs.",
        area="network",
        check=_flow_logs,
        fix="add an aws.ec2.FlowLog for the VPC to a KMS-encrypted CloudWatch log group.",
        level=ADVISORY,
    ),
]
