"""Pulumi mocks that answer like AWS would and record every resource as a `RecordedResource`."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from stacks.graph import RecordedResource

ACCOUNT_ID = "123456789012"
SECRET_MASK = "[secret]"  # noqa: S105 - the mask shown instead of a secret

# Resource types whose ARN dependents read, and the ARN's service part.
_ARN_SERVICE = {
    "aws:kms/key:Key": "kms",
    "aws:rds/instance:Instance": "rds",
    "aws:rds/subnetGroup:SubnetGroup": "rds",
    "aws:rds/parameterGroup:ParameterGroup": "rds",
    "aws:eks/cluster:Cluster": "eks",
    "aws:eks/nodeGroup:NodeGroup": "eks",
    "aws:iam/role:Role": "iam",
    "aws:iam/policy:Policy": "iam",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "iam",
    "aws:elasticache/replicationGroup:ReplicationGroup": "elasticache",
    "aws:secretsmanager/secret:Secret": "secretsmanager",
    "aws:cloudwatch/logGroup:LogGroup": "logs",
    "aws:ecr/repository:Repository": "ecr",
    "aws:sns/topic:Topic": "sns",
    "aws:route53/healthCheck:HealthCheck": "route53",
    "aws:route53/zone:Zone": "route53",
    "aws:acm/certificate:Certificate": "acm",
    "aws:budgets/budget:Budget": "budgets",
    "aws:lb/loadBalancer:LoadBalancer": "elasticloadbalancing",
    "aws:lb/targetGroup:TargetGroup": "elasticloadbalancing",
    "aws:wafv2/webAcl:WebAcl": "wafv2",
    "aws:cloudtrail/trail:Trail": "cloudtrail",
}


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:17]


def mask_secrets(value: Any) -> tuple[Any, bool]:
    """Replace every secret inside `value` by SECRET_MASK; report whether any was found."""
    if rpc.is_rpc_secret(value):
        return SECRET_MASK, True
    if isinstance(value, dict):
        found = False
        out: dict[str, Any] = {}
        for k, v in value.items():
            out[k], hit = mask_secrets(v)
            found = found or hit
        return out, found
    if isinstance(value, list):
        items = [mask_secrets(v) for v in value]
        return [v for v, _ in items], any(hit for _, hit in items)
    return value, False


def _unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _unwrap(value["value"])
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Synthesises the outputs (arn, endpoint, ...) that dependents read."""

    def __init__(self) -> None:
        self.provider_regions: dict[str, str] = {}  # provider URN -> region

    def region_of(self, provider_ref: str | None) -> str:
        if not provider_ref:
            return "us-east-1"
        return self.provider_regions.get(provider_ref.rsplit("::", 1)[0], "us-east-1")

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = _unwrap(dict(args.inputs))
        typ = args.typ
        region = self.region_of(args.provider)
        if typ == "pulumi:providers:aws":
            region = str(inputs.get("region", region))
        rid = f"{args.name}-{_digest(typ, args.name)[:8]}"
        out: dict[str, Any] = dict(inputs)
        service = _ARN_SERVICE.get(typ)
        if service:
            kind = typ.rsplit(":", 1)[1].lower()
            out.setdefault("arn", f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{kind}/{rid}")
        if typ.startswith("aws:") and "name" not in out:
            out["name"] = rid
        _synthesise(typ, region, rid, inputs, out)
        physical = rid if args.custom is not False else None
        return physical, out

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return dict(_INVOKES.get(args.token, {})), []


_INVOKES: dict[str, dict[str, Any]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": {
        "accountId": ACCOUNT_ID,
        "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/offline",
        "userId": "AIDAOFFLINE",
        "id": ACCOUNT_ID,
    },
    "aws:index/getPartition:getPartition": {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "id": "aws",
    },
}


def _sm_arn(region: str) -> str:
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}"


def _synthesise(
    typ: str, region: str, rid: str, inputs: dict[str, Any], out: dict[str, Any]
) -> None:
    if typ == "aws:kms/key:Key":
        out["keyId"] = rid
    elif typ == "aws:rds/instance:Instance":
        host = f"{rid}.c0ffee123456.{region}.rds.amazonaws.com"
        out.update(address=host, endpoint=f"{host}:5432", port=5432, identifier=rid)
        if inputs.get("manageMasterUserPassword"):
            out["masterUserSecrets"] = [
                {
                    "secretArn": f"{_sm_arn(region)}:secret:rds!db-{rid}",
                    "secretStatus": "active",
                    "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                }
            ]
    elif typ == "aws:eks/cluster:Cluster":
        ident = _digest(rid).upper()
        out.update(
            endpoint=f"https://{ident}.gr7.{region}.eks.amazonaws.com",
            certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
            identities=[
                {"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{ident}"}]}
            ],
            vpcConfig={
                **dict(inputs.get("vpcConfig") or {}),
                "clusterSecurityGroupId": f"sg-{_digest(rid, 'cluster')}",
            },
        )
    elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
        out["primaryEndpointAddress"] = f"master.{rid}.abc123.{region}.cache.amazonaws.com"
        out["readerEndpointAddress"] = f"replica.{rid}.abc123.{region}.cache.amazonaws.com"
        out["port"] = inputs.get("port", 6379)
    elif typ == "aws:s3/bucket:Bucket":
        out["bucket"] = inputs.get("bucket") or rid
        out["arn"] = f"arn:aws:s3:::{out['bucket']}"
        out["bucketRegionalDomainName"] = f"{out['bucket']}.s3.{region}.amazonaws.com"
        out["region"] = region
    elif typ == "aws:route53/zone:Zone":
        out["zoneId"] = f"Z{_digest(rid).upper()}"
        out["nameServers"] = [f"ns-{i}.awsdns-0{i}.org" for i in range(4)]
    elif typ == "aws:ecr/repository:Repository":
        out["repositoryUrl"] = (
            f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{inputs.get('name', rid)}"
        )
        out["registryId"] = ACCOUNT_ID
    elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
        out["latestVersion"] = 1
    elif typ == "aws:ec2/vpc:Vpc":
        out["defaultSecurityGroupId"] = f"sg-{_digest(rid, 'default')}"
    elif typ == "aws:secretsmanager/secret:Secret":
        out["arn"] = (
            f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{inputs.get('name', rid)}-AbCdEf"
        )
    elif typ == "aws:eks/nodeGroup:NodeGroup":
        out["resources"] = [{"autoscalingGroups": [{"name": f"eks-{rid}"}]}]
    elif typ == "aws:acm/certificate:Certificate":
        names = [inputs.get("domainName", rid), *(inputs.get("subjectAlternativeNames") or [])]
        out["domainValidationOptions"] = [
            {
                "domainName": n,
                "resourceRecordName": f"_{_digest(n)[:12]}.{n}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_digest(n, 'v')[:12]}.acm-validations.aws.",
            }
            for n in names
        ]
    elif typ == "aws:route53/record:Record":
        out["fqdn"] = str(inputs.get("name", rid)).rstrip(".")
    elif typ == "aws:lb/loadBalancer:LoadBalancer":
        out["dnsName"] = f"{rid}.elb.{region}.amazonaws.com"
        out["zoneId"] = "Z35SXDOTRQ7X7K"


class RecordingMonitor(MockMonitor):
    """The mock monitor, plus a record of parent, provider and protect for every registration."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording_mocks = mocks
        self.recorded: list[RecordedResource] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        _ensure_event_loop()  # type: ignore[no-untyped-call]
        raw = rpc.deserialize_properties(request.object)
        inputs, _ = mask_secrets(raw)
        if request.type == "pulumi:pulumi:Stack":
            state: dict[str, Any] = {}
            id_ = ""
            obj = None
        else:
            args = MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=raw,
                provider=request.provider,
                resource_id=request.importId,
                custom=request.custom or False,
            )
            pid, state = self.recording_mocks.new_resource(args)
            id_ = pid or ""
            if request.type == "pulumi:providers:aws":
                with self._lock:
                    self.recording_mocks.provider_regions[urn] = str(state.get("region", ""))
            obj = _sync_await(rpc.serialize_properties(state, {}))
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
        provider = request.provider.rsplit("::", 1)[0] if request.provider else None
        record = RecordedResource(
            type=request.type,
            name=request.name,
            urn=urn,
            inputs=inputs,
            # The physical id is what dependents receive for `resource.id`.
            outputs={**mask_secrets(state)[0], **({"id": id_} if id_ else {})},
            provider_urn=provider,
            parent_urn=request.parent or None,
            protect=bool(request.protect),
            custom=bool(request.custom),
            depends_on=tuple(sorted(set(request.dependencies))),
        )
        with self._lock:
            self.recorded.append(record)
        if obj is None:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)
