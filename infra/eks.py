"""An EKS cluster with managed node groups, add-ons and a Kubernetes provider for it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from infra._tags import COMPONENT_TAG
from infra._util import assume_role_policy

CONTROL_PLANE_LOG_TYPES: tuple[str, ...] = (
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
)

# Add-on versions pinned per Kubernetes minor version (`aws eks describe-addon-versions
# --kubernetes-version X`, and the version tables of each add-on's page in the EKS user guide);
# upgrading the cluster means choosing the next row on purpose. Only versions in EKS standard
# support have a row (the calendar: policies/rules/eks_calendar.py): 1.33 left it on
# 2026-07-29 and 1.34 on 2026-12-02, so 1.35 (standard support until 2027-03-27) is the row.
ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.35": {
        "vpc-cni": "v1.21.1-eksbuild.3",
        "coredns": "v1.13.2-eksbuild.4",
        "kube-proxy": "v1.35.3-eksbuild.2",
        "aws-ebs-csi-driver": "v1.55.0-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
    },
}

# Add-ons that must run before nodes can become Ready (networking, credentials).
_BEFORE_NODES = ("vpc-cni", "eks-pod-identity-agent", "kube-proxy")

# What a node launch creates that provider default tags never reach (launch template tag
# specifications): tagged, they count in cost allocation and the Environment-filtered budget.
NODE_TAGGED_RESOURCES = ("instance", "volume", "network-interface")

# Pods that may be interrupted tolerate this taint (and select `utp.dev/pool: spot`).
SPOT_TAINT_KEY = "utp.dev/capacity"

# Add-on configuration values (the add-on's own JSON schema, `aws eks
# describe-addon-configuration`). Without `enableNetworkPolicy` the VPC CNI runs no network
# policy agent and every NetworkPolicy is accepted by the API server but never enforced.
# The schema types it as a string, hence "true", not true.
ADDON_CONFIGURATION: dict[str, dict[str, str]] = {
    "vpc-cni": {"enableNetworkPolicy": "true"},
}


@dataclass(frozen=True, kw_only=True)
class EksClusterArgs:
    region: str
    kubernetes_version: str
    vpc_id: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]  # private subnets across AZs
    secrets_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    public_access_cidrs: tuple[str, ...] = ()
    instance_types: tuple[str, ...] = ("m6i.large",)
    min_nodes: int = 2
    desired_nodes: int = 2
    max_nodes: int = 6
    node_disk_gib: int = 50
    admin_role_arns: tuple[str, ...] = ()
    # Cost-allocation tags (Project, Environment, ...): the provider's default tags reach the
    # launch template but not the instances, volumes and ENIs the node group launches from it.
    cost_tags: Mapping[str, str] = field(default_factory=dict)
    # An interruptible pool (SPOT capacity, tainted, scales from zero) for work that can be
    # retried; empty: no spot pool. The service stays on the on-demand default pool.
    spot_instance_types: tuple[str, ...] = ()
    spot_max_nodes: int = 0


class EksCluster(pulumi.ComponentResource):
    """Creates an EKS control plane (KMS secrets encryption, private endpoint, every log type to a
    KMS-encrypted log group with retention, API authentication mode with access entries), an
    IAM OIDC provider for IRSA, pinned managed add-ons (vpc-cni with its network policy agent
    on, coredns, kube-proxy, EBS CSI, Pod Identity agent) with Pod Identity roles, a managed
    node group on a launch template (IMDSv2 only, encrypted gp3 root volume, no SSH), a gp3
    default StorageClass, and a `k8s.Provider` for the cluster.
    """

    cluster: aws.eks.Cluster
    node_group: aws.eks.NodeGroup  # the on-demand default pool (the ALB's targets)
    k8s_provider: k8s.Provider
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("utp:eks:EksCluster", name, None, opts)
        if args.kubernetes_version not in ADDON_VERSIONS:
            raise ValueError(
                f"Kubernetes {args.kubernetes_version} has no pinned add-on versions; "
                f"supported: {', '.join(sorted(ADDON_VERSIONS))}"
            )
        if not args.admin_role_arns:
            # API authentication mode without the creator bootstrap: no entry, no access at all.
            raise ValueError("at least one admin role (the deploying role) needs an access entry")
        if args.min_nodes < 2:
            raise ValueError("node groups need at least 2 nodes to survive an AZ or node loss")
        if args.spot_instance_types and args.spot_max_nodes < 1:
            raise ValueError("a spot pool needs spot_max_nodes >= 1")
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=assume_role_policy("eks.amazonaws.com"),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-cluster-role-{policy}",
                role=role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in ("AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController")
        ]
        # EKS creates this group on first log write, without KMS or retention, unless it exists.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=name,
            version=args.kubernetes_version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": list(args.subnet_ids),
                "endpoint_private_access": True,
                "endpoint_public_access": bool(args.public_access_cidrs),
                "public_access_cidrs": list(args.public_access_cidrs) or None,
            },
            encryption_config={
                "provider": {"key_arn": args.secrets_key_arn},
                "resources": ["secrets"],
            },
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            kubernetes_network_config={"ip_family": "ipv4"},
            # Standard support only: extended support silently costs 6x per cluster hour.
            upgrade_policy={"support_type": "STANDARD"},
            bootstrap_self_managed_addons=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, *attachments]),
        )
        self.cluster_security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.oidc_issuer = (
            self.cluster.identities[0]
            .oidcs[0]
            .issuer.apply(lambda url: (url or "").removeprefix("https://"))
        )
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.cluster.identities[0].oidcs[0].issuer.apply(lambda u: u or ""),
            client_id_lists=["sts.amazonaws.com"],
            opts=child,
        )
        self.oidc_provider_arn = oidc.arn
        admins: list[pulumi.Resource] = []
        for i, principal in enumerate(args.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{i}",
                cluster_name=self.cluster.name,
                principal_arn=principal,
                type="STANDARD",
                opts=child,
            )
            admins.append(
                aws.eks.AccessPolicyAssociation(
                    f"{name}-admin-{i}-policy",
                    cluster_name=self.cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                    access_scope={"type": "cluster"},
                    opts=child,
                )
            )
        early = self._create_addons(_BEFORE_NODES, [])
        node_group, spot_group = self._create_node_groups(early)
        self.node_group = node_group
        late = self._create_addons(
            tuple(a for a in ADDON_VERSIONS[args.kubernetes_version] if a not in _BEFORE_NODES),
            [node_group],
        )
        # Everything on the cluster goes through this provider: it waits until `pulumi up`'s
        # role may use the API (access entries) and pods can run and resolve names (nodes,
        # CoreDNS), or the first Kubernetes resources fail with Unauthorized or time out.
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self._kubeconfig(),
            enable_server_side_apply=True,
            delete_unreachable=False,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*admins, node_group, *spot_group, *late]
            ),
        )
        k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={
                "name": "gp3",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "fsType": "ext4"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.k8s_provider),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster.name,
                "endpoint": self.cluster.endpoint,
                "oidc_provider_arn": self.oidc_provider_arn,
                "cluster_security_group_id": self.cluster_security_group_id,
            }
        )

    def _pod_identity_role(
        self, addon: str, account: str, policy: str
    ) -> aws.eks.AddonPodIdentityAssociationArgs:
        role = aws.iam.Role(
            f"{self._name}-{addon}-role",
            assume_role_policy=assume_role_policy("pods.eks.amazonaws.com"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicyAttachment(
            f"{self._name}-{addon}-role-policy",
            role=role.name,
            policy_arn=policy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account=account)

    def _create_addons(
        self, names: Sequence[str], after: Sequence[pulumi.Resource]
    ) -> list[aws.eks.Addon]:
        versions = ADDON_VERSIONS[self._args.kubernetes_version]
        identities = {
            "vpc-cni": ("aws-node", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"),
            "aws-ebs-csi-driver": (
                "ebs-csi-controller-sa",
                "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            ),
        }
        addons = []
        for addon in names:
            associations = None
            if addon in identities:
                account, policy = identities[addon]
                associations = [self._pod_identity_role(addon, account, policy)]
            addons.append(
                aws.eks.Addon(
                    f"{self._name}-{addon}",
                    cluster_name=self.cluster.name,
                    addon_name=addon,
                    addon_version=versions[addon],
                    resolve_conflicts_on_create="OVERWRITE",
                    resolve_conflicts_on_update="PRESERVE",
                    pod_identity_associations=associations,
                    configuration_values=(
                        json.dumps(ADDON_CONFIGURATION[addon])
                        if addon in ADDON_CONFIGURATION
                        else None
                    ),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
                )
            )
        return addons

    def _create_node_groups(
        self, after: Sequence[pulumi.Resource]
    ) -> tuple[aws.eks.NodeGroup, list[aws.eks.NodeGroup]]:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-role-{policy}",
                role=role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            # The CNI policy is on the vpc-cni Pod Identity role, not on every node.
            for policy in (
                "AmazonEKSWorkerNodePolicy",
                "AmazonEC2ContainerRegistryReadOnly",
                "AmazonSSMManagedInstanceCore",
            )
        ]
        template = aws.ec2.LaunchTemplate(
            f"{name}-nodes-lt",
            description=f"{name} managed nodes",
            update_default_version=True,
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                # Pods get AWS credentials from Pod Identity / IRSA, never from the node.
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": args.node_disk_gib,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            monitoring={"enabled": True},
            tag_specifications=[
                {
                    "resource_type": kind,
                    "tags": {
                        **args.cost_tags,
                        "Component": "eks-nodes",
                        COMPONENT_TAG: "eks",
                        "Name": f"{name}-node",
                    },
                }
                for kind in NODE_TAGGED_RESOURCES
            ],
            opts=child,
        )

        def group(
            pool: str,
            capacity: str,
            instance_types: tuple[str, ...],
            sizes: tuple[int, int, int],
            taints: list[dict[str, str]] | None = None,
        ) -> aws.eks.NodeGroup:
            return aws.eks.NodeGroup(
                f"{name}-nodes" if pool == "default" else f"{name}-nodes-{pool}",
                cluster_name=self.cluster.name,
                node_group_name_prefix=f"{name}-{pool}-",
                node_role_arn=role.arn,
                subnet_ids=list(args.subnet_ids),
                ami_type="AL2023_x86_64_STANDARD",
                capacity_type=capacity,
                instance_types=list(instance_types),
                scaling_config={
                    "min_size": sizes[0],
                    "desired_size": sizes[1],
                    "max_size": sizes[2],
                },
                update_config={"max_unavailable_percentage": 33},
                launch_template={
                    "id": template.id,
                    "version": template.latest_version.apply(str),
                },
                labels={"utp.dev/pool": pool},
                taints=taints,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[*attachments, *after],
                    # The Cluster Autoscaler (infra/autoscaling.py) owns the desired size once
                    # the group exists.
                    ignore_changes=["scalingConfig.desiredSize"],
                ),
            )

        default = group(
            "default",
            "ON_DEMAND",
            args.instance_types,
            (args.min_nodes, args.desired_nodes, args.max_nodes),
        )
        if not args.spot_instance_types:
            return default, []
        # Several instance types spread the pool over more spot capacity pools (fewer
        # interruptions); min 0 so an idle pool costs nothing. Only pods that tolerate the
        # taint land here: the service does not.
        spot = group(
            "spot",
            "SPOT",
            args.spot_instance_types,
            (0, 0, args.spot_max_nodes),
            taints=[{"key": SPOT_TAINT_KEY, "value": "spot", "effect": "NO_SCHEDULE"}],
        )
        return default, [spot]

    def _kubeconfig(self) -> pulumi.Output[str]:
        region = self._args.region
        return pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data
        ).apply(
            lambda v: json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": v[0],
                            "cluster": {"server": v[1], "certificate-authority-data": v[2]},
                        }
                    ],
                    "contexts": [{"name": v[0], "context": {"cluster": v[0], "user": v[0]}}],
                    "current-context": v[0],
                    "users": [
                        {
                            "name": v[0],
                            "user": {
                                "exec": {
                                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                                    "command": "aws",
                                    "args": [
                                        "eks",
                                        "get-token",
                                        "--cluster-name",
                                        v[0],
                                        "--region",
                                        region,
                                    ],
                                }
                            },
                        }
                    ],
                }
            )
        )
