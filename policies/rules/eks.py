"""EKS control plane, node groups, launch templates and workload identity."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

from policies.helpers import (
    ADVISORY,
    UNKNOWN,
    Res,
    as_int,
    as_list,
    as_str,
    get,
    is_false,
    is_set,
    is_true,
    of_type,
    refers_to,
    resource_rule,
    stack_rule,
    types,
)
from policies.rules import eks_calendar

CLUSTER = types("aws:eks/cluster:Cluster")
NODE_GROUP = types("aws:eks/nodeGroup:NodeGroup")
LAUNCH_TEMPLATE = types("aws:ec2/launchTemplate:LaunchTemplate")
ADDON = types("aws:eks/addon:Addon")
POD_IDENTITY_ASSOCIATION = types("aws:eks/podIdentityAssociation:PodIdentityAssociation")
OIDC_PROVIDER = types("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
NETWORK_POLICY = types("kubernetes:networking.k8s.io/v1:NetworkPolicy")

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
WORLD = {"0.0.0.0/0", "::/0"}


def _secrets_encryption(res: Res) -> Iterator[str]:
    configs = as_list(res.get("encryptionConfig"))
    for cfg in configs:
        if "secrets" in [as_str(r) for r in as_list(get(cfg, "resources"))] and is_set(
            get(cfg, "provider", "keyArn")
        ):
            return
    yield "Kubernetes secrets are not envelope-encrypted with a customer-managed KMS key."


def _private_endpoint(res: Res) -> Iterator[str]:
    vpc = res.get("vpcConfig")
    if not is_true(get(vpc, "endpointPrivateAccess")):
        yield "the private API endpoint is not enabled (endpointPrivateAccess)."
    if is_false(get(vpc, "endpointPublicAccess")):
        return
    cidrs = [as_str(c) for c in as_list(get(vpc, "publicAccessCidrs"))]
    if get(vpc, "publicAccessCidrs") is UNKNOWN:
        return
    if not cidrs or WORLD & set(cidrs):
        yield "the public API endpoint is open to the internet (no publicAccessCidrs restriction)."


def _control_plane_logs(res: Res) -> Iterator[str]:
    enabled = {as_str(t) for t in as_list(res.get("enabledClusterLogTypes"))}
    missing = [t for t in CONTROL_PLANE_LOG_TYPES if t not in enabled]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}."


def _version_tuple(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        return None


def _as_of(res: Res) -> date | None:
    raw = res.setting("asOf", None)
    if raw is None:
        return eks_calendar.today()
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        return None


def _supported_version(res: Res) -> Iterator[str]:
    version = res.get("version")
    if version is UNKNOWN:
        return
    if not isinstance(version, str) or not version:
        yield "no Kubernetes version is pinned (the default drifts between applies)."
        return
    have = _version_tuple(version)
    on = _as_of(res)
    if on is None:
        yield f"policy config asOf {res.setting('asOf', '')!r} is not a date (YYYY-MM-DD)."
        return
    oldest = eks_calendar.oldest_in_standard_support(on)
    if oldest is None:
        last = max(eks_calendar.STANDARD_SUPPORT_ENDS.values())
        yield (
            f"the EKS support calendar (policies/rules/eks_calendar.py) ends on {last}: on {on}"
            " every version it knows has left standard support; add the newer versions."
        )
        return
    want = _version_tuple(oldest)
    if have is None or want is None or have < want:
        ended = eks_calendar.support_ends(version)
        when = f" on {ended}" if ended else ""
        yield (
            f"Kubernetes {version} left EKS standard support{when}; the oldest version in"
            f" standard support on {on} is {oldest}."
        )
        return
    # An explicit floor (policy config) can only raise the calendar's.
    minimum = res.setting("minimumVersion", None)
    floor = _version_tuple(str(minimum)) if minimum is not None else None
    if minimum is not None and (floor is None or have < floor):
        yield f"Kubernetes {version} is older than the configured minimum version {minimum}."


def _access_entries(res: Res) -> Iterator[str]:
    mode = res.get("accessConfig", "authenticationMode")
    if mode is UNKNOWN:
        return
    if mode != "API":
        shown = mode if isinstance(mode, str) else "CONFIG_MAP (default)"
        yield f"authentication mode is {shown}, not API (access entries)."


def _node_group_launch_template(res: Res) -> Iterator[str]:
    lt = res.get("launchTemplate")
    if not (is_set(get(lt, "id")) or is_set(get(lt, "name"))):
        yield "the node group does not use a launch template."
    elif not is_set(get(lt, "version")):
        yield "the launch template version is not pinned."


def _node_group_remote_access(res: Res) -> Iterator[str]:
    remote = res.get("remoteAccess")
    if remote is None or remote is UNKNOWN:
        return
    if is_set(get(remote, "ec2SshKey")) and not is_set(get(remote, "sourceSecurityGroupIds")):
        yield "SSH is allowed from anywhere (remoteAccess without sourceSecurityGroupIds)."


def _node_group_multi_az(res: Res) -> Iterator[str]:
    min_size = as_int(res.get("scalingConfig", "minSize"))
    # An interruptible SPOT pool carries no service and may scale to zero; only its spread
    # over zones matters.
    spot = res.get("capacityType") == "SPOT"
    if min_size is not None and min_size < 2 and not spot:
        yield f"minSize is {min_size}; at least 2 nodes are needed to survive one failure."
    subnets = res.get("subnetIds")
    if subnets is not UNKNOWN and len(as_list(subnets)) < 2:
        yield "the node group spans fewer than 2 subnets (availability zones)."


def _imdsv2(res: Res) -> Iterator[str]:
    metadata = res.get("metadataOptions")
    if get(metadata, "httpTokens") not in ("required", UNKNOWN):
        yield "instance metadata does not require IMDSv2 tokens (httpTokens != required)."
    hops = as_int(get(metadata, "httpPutResponseHopLimit"))
    if hops is not None and hops > 2:
        yield f"httpPutResponseHopLimit is {hops}; pods could reach node credentials."


def _encrypted_volumes(res: Res) -> Iterator[str]:
    mappings = as_list(res.get("blockDeviceMappings"))
    if not mappings:
        yield "no block device mapping declares an encrypted root volume."
        return
    for mapping in mappings:
        ebs = get(mapping, "ebs")
        if ebs is None:
            continue
        if not is_true(get(ebs, "encrypted")):
            yield f"EBS volume {get(mapping, 'deviceName') or '?'} is not encrypted."


def _addon_pinned(res: Res) -> Iterator[str]:
    if not is_set(res.get("addonVersion")):
        yield f"add-on {res.get('addonName') or '?'} has no pinned addonVersion."


def _workload_identity(
    resources: list[Res], _config: Mapping[str, Any]
) -> Iterator[tuple[str, str | None]]:
    addons = [
        a
        for a in of_type(resources, ADDON)
        if as_str(a.get("addonName")) == "eks-pod-identity-agent"
    ]
    oidc = of_type(resources, OIDC_PROVIDER)
    for cluster in of_type(resources, CLUSTER):
        if any(refers_to(a, "clusterName", cluster) for a in addons):
            continue
        issuer = get(cluster.props, "identities", 0, "oidcs", 0, "issuer")
        if any(
            refers_to(p, "url", cluster)
            or (isinstance(issuer, str) and issuer and p.get("url") == issuer)
            for p in oidc
        ):
            continue
        yield (
            f"EKS cluster '{cluster.name}' has neither an IAM OIDC provider (IRSA) nor the "
            "eks-pod-identity-agent add-on.",
            cluster.urn,
        )


def _addon_config(addon: Res) -> dict[str, Any]:
    raw = addon.get("configurationValues")
    if isinstance(raw, str) and raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _network_policy_enforced(
    resources: list[Res], _config: Mapping[str, Any]
) -> Iterator[tuple[str, str | None]]:
    # The API server accepts a NetworkPolicy whatever the CNI does; on EKS only the VPC CNI's
    # network policy agent (enableNetworkPolicy) turns the declared isolation into filtering.
    if not of_type(resources, NETWORK_POLICY):
        return
    cnis = [a for a in of_type(resources, ADDON) if as_str(a.get("addonName")) == "vpc-cni"]
    for cluster in of_type(resources, CLUSTER):
        mine = [a for a in cnis if refers_to(a, "clusterName", cluster)]
        if any(a.get("configurationValues") is UNKNOWN for a in mine):
            continue
        if not any(
            str(_addon_config(a).get("enableNetworkPolicy")).lower() == "true" for a in mine
        ):
            yield (
                f"EKS cluster '{cluster.name}': NetworkPolicies are declared but not enforced "
                "(no vpc-cni add-on with enableNetworkPolicy).",
                cluster.urn,
            )


RULES = [
    resource_rule(
        name="aws-eks-secrets-encryption-cmk",
        description="EKS clusters envelope-encrypt Kubernetes secrets with a customer-managed "
        "KMS key.",
        area="eks",
        types=CLUSTER,
        check=_secrets_encryption,
        fix="set encryptionConfig {resources: ['secrets'], provider: {keyArn: <CMK ARN>}}.",
    ),
    resource_rule(
        name="aws-eks-private-endpoint",
        description="EKS API endpoints are private, or public only to listed CIDRs.",
        area="eks",
        types=CLUSTER,
        check=_private_endpoint,
        fix="set vpcConfig.endpointPrivateAccess=True and endpointPublicAccess=False "
        "(or publicAccessCidrs to your office/VPN ranges).",
    ),
    resource_rule(
        name="aws-eks-control-plane-logging",
        description="EKS clusters ship all control-plane log types to CloudWatch.",
        area="eks",
        types=CLUSTER,
        check=_control_plane_logs,
        fix=f"set enabledClusterLogTypes to {list(CONTROL_PLANE_LOG_TYPES)}.",
    ),
    resource_rule(
        name="aws-eks-supported-version",
        description="EKS clusters pin a Kubernetes version in standard support.",
        area="eks",
        types=CLUSTER,
        check=_supported_version,
        fix="pin `version` (utp:cluster.kubernetesVersion) to a release in EKS standard support,"
        " with its add-on row in infra/eks.py (config: minimumVersion raises the floor, asOf"
        " checks another date).",
        config={
            "minimumVersion": {"type": "string"},
            "asOf": {"type": "string", "format": "date"},
        },
    ),
    resource_rule(
        name="aws-eks-access-entries",
        description="EKS clusters authenticate through access entries (API mode), not aws-auth.",
        area="eks",
        types=CLUSTER,
        check=_access_entries,
        fix="set accessConfig.authenticationMode='API' and grant access with aws.eks.AccessEntry.",
    ),
    resource_rule(
        name="aws-eks-nodegroup-launch-template",
        description="EKS managed node groups use a pinned launch template.",
        area="eks",
        types=NODE_GROUP,
        check=_node_group_launch_template,
        fix="pass launchTemplate {id, version: <latestVersion>} from an aws.ec2.LaunchTemplate.",
    ),
    resource_rule(
        name="aws-eks-nodegroup-no-public-ssh",
        description="EKS node groups do not allow SSH from anywhere.",
        area="eks",
        types=NODE_GROUP,
        check=_node_group_remote_access,
        fix="drop remoteAccess (use SSM Session Manager) or restrict it with "
        "sourceSecurityGroupIds.",
    ),
    resource_rule(
        name="aws-eks-nodegroup-multi-az",
        description="EKS node groups keep at least 2 nodes across at least 2 availability zones.",
        area="eks",
        types=NODE_GROUP,
        check=_node_group_multi_az,
        fix="set scalingConfig.minSize >= 2 and subnetIds in at least 2 AZs.",
        production_only=True,
    ),
    resource_rule(
        name="aws-ec2-launch-template-imdsv2",
        description="Launch templates require IMDSv2 and keep the metadata hop limit <= 2.",
        area="eks",
        types=LAUNCH_TEMPLATE,
        check=_imdsv2,
        fix="set metadataOptions {httpTokens: 'required', httpPutResponseHopLimit: 2}.",
    ),
    resource_rule(
        name="aws-ec2-launch-template-encrypted-volumes",
        description="Launch templates encrypt every EBS volume they declare.",
        area="eks",
        types=LAUNCH_TEMPLATE,
        check=_encrypted_volumes,
        fix="declare blockDeviceMappings with ebs {encrypted: 'true', kmsKeyId, "
        "volumeType: 'gp3'}.",
    ),
    resource_rule(
        name="aws-eks-addon-version-pinned",
        description="EKS add-ons pin their version so upgrades are deliberate.",
        area="eks",
        types=ADDON,
        check=_addon_pinned,
        fix="set addonVersion to the version tested with this Kubernetes release.",
        level=ADVISORY,
    ),
    stack_rule(
        name="aws-eks-network-policy-enforced",
        description="When the stack declares NetworkPolicies, each EKS cluster's VPC CNI add-on "
        "enforces them.",
        area="eks",
        check=_network_policy_enforced,
        fix="install the vpc-cni add-on with configurationValues "
        '\'{"enableNetworkPolicy": "true"}\'.',
    ),
    stack_rule(
        name="aws-eks-workload-identity",
        description="Each EKS cluster offers workload identity (IRSA OIDC provider or Pod "
        "Identity).",
        area="eks",
        check=_workload_identity,
        fix="create an aws.iam.OpenIdConnectProvider for the cluster issuer, or install the "
        "eks-pod-identity-agent add-on.",
    ),
]
