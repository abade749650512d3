"""One region's VPC: public, private and database subnets over three AZs."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra._util import assume_role_policy, policy_document

INTERFACE_ENDPOINTS: tuple[str, ...] = ("ecr.api", "ecr.dkr", "sts")


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    region: str
    cidr: str
    azs: tuple[str, ...]
    single_nat_gateway: bool
    flow_log_key_arn: pulumi.Input[str]
    flow_log_retention_days: int
    cluster_name: str  # subnets are tagged for this cluster's load balancers


def subnet_plan(cidr: str, count: int) -> dict[str, list[str]]:
    """Split a /16-/18 VPC range: big private subnets for pods, small public and database ones."""
    net = ipaddress.IPv4Network(cidr)
    quarters = list(net.subnets(prefixlen_diff=2))
    private = [str(s) for s in list(quarters[0].subnets(prefixlen_diff=2))[:count]]
    rest = list(quarters[1].subnets(prefixlen_diff=3))
    public = [str(s) for s in rest[:count]]
    database = [str(s) for s in rest[4 : 4 + count]]
    if len(private) < count or len(public) < count or len(database) < count:
        raise ValueError(f"{cidr} cannot hold {count} AZs of subnets")
    return {"private": private, "public": public, "database": database}


class Network(pulumi.ComponentResource):
    """Creates a VPC with DNS support, an internet gateway, per-AZ public, private and database
    subnets, NAT gateways (one per AZ, or one), route tables, a locked-down default security
    group, VPC flow logs (ALL traffic) to a KMS-encrypted log group with retention, an S3
    gateway endpoint and ECR/STS interface endpoints reachable only from inside the VPC.
    """

    vpc: aws.ec2.Vpc
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    database_subnet_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:network:Network", name, None, opts)
        self._name = name
        self._args = args
        plan = subnet_plan(args.cidr, len(args.azs))
        child = pulumi.ResourceOptions(parent=self)
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        # No rules: nothing may use the default group by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            tags={"Name": f"{name}-default-deny"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        cluster_tag = f"kubernetes.io/cluster/{args.cluster_name}"
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        self.public_subnet_ids = []
        self.private_subnet_ids = []
        self.database_subnet_ids = []
        nats: list[aws.ec2.NatGateway] = []
        private_rts: list[aws.ec2.RouteTable] = []
        database_rt = aws.ec2.RouteTable(
            f"{name}-database-rt", vpc_id=self.vpc.id, tags={"Name": f"{name}-database"}, opts=child
        )
        for i, az in enumerate(args.azs):
            public = aws.ec2.Subnet(
                f"{name}-public-{az}",
                vpc_id=self.vpc.id,
                cidr_block=plan["public"][i],
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={
                    "Name": f"{name}-public-{az}",
                    "kubernetes.io/role/elb": "1",
                    cluster_tag: "shared",
                },
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{az}-rta",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                opts=child,
            )
            self.public_subnet_ids.append(public.id)
            if i == 0 or not args.single_nat_gateway:
                eip = aws.ec2.Eip(f"{name}-nat-{az}-eip", domain="vpc", opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{az}",
                        allocation_id=eip.id,
                        subnet_id=public.id,
                        tags={"Name": f"{name}-nat-{az}"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    )
                )
            private = aws.ec2.Subnet(
                f"{name}-private-{az}",
                vpc_id=self.vpc.id,
                cidr_block=plan["private"][i],
                availability_zone=az,
                tags={
                    "Name": f"{name}-private-{az}",
                    "kubernetes.io/role/internal-elb": "1",
                    cluster_tag: "shared",
                },
                opts=child,
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{az}-rt",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[-1].id}],
                tags={"Name": f"{name}-private-{az}"},
                opts=child,
            )
            private_rts.append(rt)
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{az}-rta", subnet_id=private.id, route_table_id=rt.id, opts=child
            )
            self.private_subnet_ids.append(private.id)
            database = aws.ec2.Subnet(
                f"{name}-database-{az}",
                vpc_id=self.vpc.id,
                cidr_block=plan["database"][i],
                availability_zone=az,
                tags={"Name": f"{name}-database-{az}"},
                opts=child,
            )
            # Database subnets have no route to the internet at all.
            aws.ec2.RouteTableAssociation(
                f"{name}-database-{az}-rta",
                subnet_id=database.id,
                route_table_id=database_rt.id,
                opts=child,
            )
            self.database_subnet_ids.append(database.id)
        self.nat_gateway_count = len(nats)
        self._create_flow_logs()
        self._create_endpoints([*private_rts, database_rt])
        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "database_subnet_ids": self.database_subnet_ids,
            }
        )

    def _create_flow_logs(self) -> None:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/aws/vpc/{name}/flow-logs",
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=args.flow_log_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=assume_role_policy("vpc-flow-logs.amazonaws.com"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=policy_document(
                [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "logs:CreateLogStream",
                            "logs:PutLogEvents",
                            "logs:DescribeLogStreams",
                        ],
                        "Resource": pulumi.Output.concat(group.arn, ":*"),
                    }
                ]
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )

    def _create_endpoints(self, route_tables: list[aws.ec2.RouteTable]) -> None:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        aws.ec2.VpcEndpoint(
            f"{name}-s3-endpoint",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in route_tables],
            opts=child,
        )
        sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to interface endpoints",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "cidr_blocks": [args.cidr],
                    "description": "VPC",
                }
            ],
            opts=child,
        )
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=self.private_subnet_ids,
                security_group_ids=[sg.id],
                opts=child,
            )
