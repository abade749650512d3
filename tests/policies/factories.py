"""A known-good two-region stack for the policy tests, and one-property mutations of it.

Every resource starts compliant with every rule (the test suite checks that), so a mutation
that breaks one setting must trip exactly the rule that guards it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from policies.rules.tags import COMPONENT_TAG, TAGGABLE
from stacks.graph import RecordedResource

STACK = "production"
PREFIX = f"urn:pulumi:{STACK}::utp::"
AWS_EAST = f"{PREFIX}pulumi:providers:aws::aws-use1"
AWS_WEST = f"{PREFIX}pulumi:providers:aws::aws-usw2"
K8S_EAST = f"{PREFIX}pulumi:providers:kubernetes::k8s-use1"
ACCOUNT = "123456789012"


def _id(name: str) -> str:
    return f"{name}-id"


def arn(service: str, region: str, name: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{name}"


class GoodStack:
    """Builds RecordedResources the way the platform's mocks record them."""

    def __init__(self) -> None:
        self.resources: list[RecordedResource] = []

    def add(
        self,
        typ: str,
        name: str,
        inputs: dict[str, Any],
        *,
        provider: str | None = AWS_EAST,
        outputs: dict[str, Any] | None = None,
        protect: bool = False,
    ) -> str:
        urn = f"{PREFIX}{typ}::{name}"
        if typ in TAGGABLE:  # as infra/_tags.py tags every taggable resource
            inputs = {**inputs, "tags": {COMPONENT_TAG: "test", **inputs.get("tags", {})}}
        out = {"id": _id(name), "name": _id(name), **inputs, **(outputs or {})}
        self.resources.append(
            RecordedResource(
                type=typ,
                name=name,
                urn=urn,
                inputs=inputs,
                outputs=out,
                provider_urn=provider,
                protect=protect,
            )
        )
        return _id(name)


def _providers(s: GoodStack) -> None:
    s.add("pulumi:providers:aws", "aws-use1", {"region": "us-east-1"}, provider=None)
    s.add("pulumi:providers:aws", "aws-usw2", {"region": "us-west-2"}, provider=None)
    s.add("pulumi:providers:kubernetes", "k8s-use1", {"kubeconfig": "{}"}, provider=None)


def _kms(s: GoodStack, region_provider: str, suffix: str) -> str:
    s.add(
        "aws:kms/key:Key",
        f"key-{suffix}",
        {"enableKeyRotation": True, "deletionWindowInDays": 30},
        provider=region_provider,
        protect=True,
    )
    return arn("kms", "us-east-1" if suffix == "use1" else "us-west-2", f"key/key-{suffix}")


def _network(s: GoodStack, key: str) -> None:
    vpc = s.add("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    s.add(
        "aws:cloudwatch/logGroup:LogGroup",
        "flow-logs",
        {"kmsKeyId": key, "retentionInDays": 90},
    )
    s.add("aws:ec2/flowLog:FlowLog", "vpc-flow", {"vpcId": vpc, "trafficType": "ALL"})
    s.add(
        "aws:ec2/securityGroup:SecurityGroup",
        "db-sg",
        {
            "vpcId": vpc,
            "ingress": [
                {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/16"]}
            ],
        },
    )
    s.add(
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "https-in",
        {
            "type": "ingress",
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": ["0.0.0.0/0"],
            "securityGroupId": _id("db-sg"),
        },
    )
    s.add(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "redis-in",
        {
            "ipProtocol": "tcp",
            "fromPort": 6379,
            "toPort": 6379,
            "cidrIpv4": "10.0.0.0/16",
            "securityGroupId": _id("db-sg"),
        },
    )


def _eks(s: GoodStack, key: str) -> None:
    s.add(
        "aws:eks/cluster:Cluster",
        "eks",
        {
            "version": "1.35",
            "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": key}},
            "vpcConfig": {
                "endpointPrivateAccess": True,
                "endpointPublicAccess": False,
                "subnetIds": ["subnet-a", "subnet-b", "subnet-c"],
            },
            "enabledClusterLogTypes": [
                "api",
                "audit",
                "authenticator",
                "controllerManager",
                "scheduler",
            ],
            "accessConfig": {"authenticationMode": "API"},
            "upgradePolicy": {"supportType": "STANDARD"},
        },
        outputs={
            "identities": [{"oidcs": [{"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/X"}]}]
        },
    )
    s.add(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "eks-oidc",
        {
            "url": "https://oidc.eks.us-east-1.amazonaws.com/id/X",
            "clientIdLists": ["sts.amazonaws.com"],
        },
    )
    s.add(
        "aws:eks/addon:Addon",
        "eks-pod-identity",
        {
            "clusterName": _id("eks"),
            "addonName": "eks-pod-identity-agent",
            "addonVersion": "v1.3.4",
        },
    )
    s.add(
        "aws:eks/addon:Addon",
        "vpc-cni",
        {
            "clusterName": _id("eks"),
            "addonName": "vpc-cni",
            "addonVersion": "v1.19.6-eksbuild.1",
            "configurationValues": json.dumps({"enableNetworkPolicy": "true"}),
        },
    )
    s.add(
        "aws:ec2/launchTemplate:LaunchTemplate",
        "nodes-lt",
        {
            "metadataOptions": {
                "httpTokens": "required",
                "httpEndpoint": "enabled",
                "httpPutResponseHopLimit": 2,
            },
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "ebs": {"encrypted": "true", "kmsKeyId": key, "volumeType": "gp3"},
                }
            ],
            "tagSpecifications": [
                {"resourceType": kind, "tags": {"Project": "utp", "Environment": STACK}}
                for kind in ("instance", "volume", "network-interface")
            ],
        },
    )
    s.add(
        "aws:eks/nodeGroup:NodeGroup",
        "nodes",
        {
            "clusterName": _id("eks"),
            "launchTemplate": {"id": _id("nodes-lt"), "version": "1"},
            "scalingConfig": {"minSize": 2, "desiredSize": 3, "maxSize": 6},
            "subnetIds": ["subnet-a", "subnet-b", "subnet-c"],
        },
    )
    s.add(
        "aws:eks/nodeGroup:NodeGroup",
        "nodes-spot",
        {
            "clusterName": _id("eks"),
            "capacityType": "SPOT",
            "launchTemplate": {"id": _id("nodes-lt"), "version": "1"},
            "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": 4},
            "subnetIds": ["subnet-a", "subnet-b", "subnet-c"],
        },
    )


def _rds(s: GoodStack, key_east: str, key_west: str) -> None:
    pg_settings = {
        "family": "postgres16",
        "parameters": [
            {"name": "rds.force_ssl", "value": "1"},
            {"name": "log_min_duration_statement", "value": "500"},
        ],
    }
    s.add("aws:rds/parameterGroup:ParameterGroup", "pg-use1", dict(pg_settings))
    s.add(
        "aws:rds/parameterGroup:ParameterGroup",
        "pg-usw2",
        copy.deepcopy(pg_settings),
        provider=AWS_WEST,
    )
    common = {
        "storageEncrypted": True,
        "publiclyAccessible": False,
        "deletionProtection": True,
        "performanceInsightsEnabled": True,
        "monitoringInterval": 60,
        "monitoringRoleArn": arn("iam", "", "role/rds-monitoring"),
        "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
        "instanceClass": "db.r6g.large",
        "maintenanceWindow": "sun:02:00-sun:03:00",
    }
    primary_arn = arn("rds", "us-east-1", "db:db-primary")
    s.add(
        "aws:rds/instance:Instance",
        "db-primary",
        {
            **common,
            "engine": "postgres",
            "engineVersion": "16",
            "kmsKeyId": key_east,
            "performanceInsightsKmsKeyId": key_east,
            "multiAz": True,
            "backupRetentionPeriod": 30,
            "skipFinalSnapshot": False,
            "finalSnapshotIdentifier": "db-primary-final",
            "password": "[secret]",
            "parameterGroupName": _id("pg-use1"),
        },
        outputs={"arn": primary_arn},
        protect=True,
    )
    s.add(
        "aws:rds/instance:Instance",
        "db-replica",
        {
            **common,
            "replicateSourceDb": primary_arn,
            "kmsKeyId": key_west,
            "performanceInsightsKmsKeyId": key_west,
            "backupRetentionPeriod": 7,
            "skipFinalSnapshot": True,
            "parameterGroupName": _id("pg-usw2"),
        },
        provider=AWS_WEST,
        protect=True,
    )


def _cache(s: GoodStack, key: str) -> None:
    s.add(
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "redis",
        {
            "engine": "redis",
            "engineVersion": "7.1",
            "atRestEncryptionEnabled": True,
            "kmsKeyId": key,
            "transitEncryptionEnabled": True,
            "transitEncryptionMode": "required",
            "authToken": "[secret]",
            "multiAzEnabled": True,
            "automaticFailoverEnabled": True,
            "numCacheClusters": 2,
            "snapshotRetentionLimit": 7,
            "maintenanceWindow": "sun:03:00-sun:04:00",
            "logDeliveryConfigurations": [
                {"logType": "slow-log", "destinationType": "cloudwatch-logs"},
                {"logType": "engine-log", "destinationType": "cloudwatch-logs"},
            ],
        },
        protect=True,
    )


def tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _bucket(
    s: GoodStack,
    name: str,
    key: str,
    provider: str,
    *,
    log_to: str | None,
    replicate_to: str | None = None,
    replica_key: str | None = None,
) -> str:
    bucket = s.add("aws:s3/bucket:Bucket", name, {}, provider=provider, protect=True)
    s.add(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        f"{name}-pab",
        {
            "bucket": bucket,
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
        provider=provider,
    )
    s.add(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        f"{name}-ownership",
        {"bucket": bucket, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
        provider=provider,
    )
    s.add(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"{name}-sse",
        {
            "bucket": bucket,
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": key,
                    },
                    "bucketKeyEnabled": True,
                }
            ],
        },
        provider=provider,
    )
    s.add(
        "aws:s3/bucketVersioning:BucketVersioning",
        f"{name}-versioning",
        {"bucket": bucket, "versioningConfiguration": {"status": "Enabled"}},
        provider=provider,
    )
    s.add(
        "aws:s3/bucketPolicy:BucketPolicy",
        f"{name}-policy",
        {"bucket": bucket, "policy": tls_only_policy(bucket)},
        provider=provider,
    )
    s.add(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        f"{name}-lifecycle",
        {
            "bucket": bucket,
            "rules": [
                {
                    "id": "tiering",
                    "status": "Enabled",
                    "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
                    "noncurrentVersionExpiration": {"noncurrentDays": 90},
                    "transitions": [
                        {"days": 30, "storageClass": "STANDARD_IA"},
                        {"days": 90, "storageClass": "GLACIER"},
                        {"days": 365, "storageClass": "DEEP_ARCHIVE"},
                    ],
                }
            ],
        },
        provider=provider,
    )
    if log_to is not None:
        s.add(
            "aws:s3/bucketLogging:BucketLogging",
            f"{name}-logging",
            {"bucket": bucket, "targetBucket": log_to, "targetPrefix": f"{name}/"},
            provider=provider,
        )
    if replicate_to is not None:
        s.add(
            "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
            f"{name}-replication",
            {
                "bucket": bucket,
                "role": arn("iam", "", "role/replication"),
                "rules": [
                    {
                        "id": "dr",
                        "status": "Enabled",
                        "filter": {},
                        "deleteMarkerReplication": {"status": "Enabled"},
                        "destination": {
                            "bucket": f"arn:aws:s3:::{replicate_to}",
                            "encryptionConfiguration": {"replicaKmsKeyId": replica_key},
                            "replicationTime": {"status": "Enabled", "time": {"minutes": 15}},
                        },
                        "sourceSelectionCriteria": {
                            "sseKmsEncryptedObjects": {"status": "Enabled"}
                        },
                    }
                ],
            },
            provider=provider,
        )
    return bucket


def _s3(s: GoodStack, key_east: str, key_west: str) -> None:
    logs_east = _bucket(s, "logs-use1", key_east, AWS_EAST, log_to=None)
    logs_west = _bucket(s, "logs-usw2", key_west, AWS_WEST, log_to=None)
    replica = _bucket(s, "backups-replica", key_west, AWS_WEST, log_to=logs_west)
    _bucket(
        s,
        "backups",
        key_east,
        AWS_EAST,
        log_to=logs_east,
        replicate_to=replica,
        replica_key=key_west,
    )


def _dns(s: GoodStack) -> None:
    check = s.add(
        "aws:route53/healthCheck:HealthCheck",
        "api-health",
        {
            "type": "HTTPS",
            "fqdn": "use1.api.example.com",
            "port": 443,
            "resourcePath": "/health/ready",
        },
    )
    for role, extra in (("PRIMARY", {"healthCheckId": check}), ("SECONDARY", {})):
        s.add(
            "aws:route53/record:Record",
            f"api-{role.lower()}",
            {
                "zoneId": "Z123",
                "name": "api.example.com",
                "type": "CNAME",
                "ttl": 60,
                "records": [f"{role.lower()}.example.com"],
                "setIdentifier": role.lower(),
                "failoverRoutingPolicies": [{"type": role}],
                **extra,
            },
        )


POD_LABELS = {"app.kubernetes.io/name": "translator"}


def container(name: str = "translator") -> dict[str, Any]:
    return {
        "name": name,
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/utp:1.4.2",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "livenessProbe": {"httpGet": {"path": "/health/live", "port": 8000}},
        "readinessProbe": {"httpGet": {"path": "/health/ready", "port": 8000}},
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        "env": [{"name": "UTP_DATABASE_URL_FILE", "value": "/etc/utp/database/url"}],
        "volumeMounts": [
            {"name": "database-url", "mountPath": "/etc/utp/database", "readOnly": True}
        ],
    }


def pod_spec() -> dict[str, Any]:
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container()],
        "volumes": [
            {
                "name": "database-url",
                "secret": {
                    "secretName": "utp-env",
                    "items": [{"key": "UTP_DATABASE_URL", "path": "url"}],
                },
            }
        ],
    }


def _kubernetes(s: GoodStack) -> None:
    ns = "utp"
    meta = {"namespace": ns, "labels": POD_LABELS}
    s.add("kubernetes:core/v1:Namespace", "ns", {"metadata": {"name": ns}}, provider=K8S_EAST)
    s.add(
        "kubernetes:apps/v1:Deployment",
        "translator",
        {
            "metadata": meta,
            "spec": {
                "selector": {"matchLabels": POD_LABELS},
                "template": {"metadata": {"labels": POD_LABELS}, "spec": pod_spec()},
            },
        },
        provider=K8S_EAST,
    )
    job_spec = pod_spec()
    del job_spec["containers"][0]["livenessProbe"]
    del job_spec["containers"][0]["readinessProbe"]
    job_spec["restartPolicy"] = "OnFailure"
    s.add(
        "kubernetes:batch/v1:CronJob",
        "backup",
        {
            "metadata": {"namespace": ns},
            "spec": {
                "schedule": "0 * * * *",
                "jobTemplate": {"spec": {"template": {"spec": job_spec}}},
            },
        },
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "translator-hpa",
        {
            "metadata": {"namespace": ns},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "translator"},
                "minReplicas": 2,
                "maxReplicas": 10,
            },
        },
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:policy/v1:PodDisruptionBudget",
        "translator-pdb",
        {
            "metadata": {"namespace": ns},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": POD_LABELS}},
        },
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "default-deny",
        {
            "metadata": {"namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "allow-ingress",
        {
            "metadata": {"namespace": ns},
            "spec": {
                "podSelector": {"matchLabels": POD_LABELS},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}]}],
            },
        },
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:core/v1:ResourceQuota",
        "quota",
        {"metadata": {"namespace": ns}, "spec": {"hard": {"requests.cpu": "8"}}},
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:core/v1:Service",
        "translator-svc",
        {
            "metadata": {"namespace": ns},
            "spec": {"type": "ClusterIP", "selector": POD_LABELS, "ports": [{"port": 80}]},
        },
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:helm.sh/v3:Release",
        "traefik",
        {"chart": "traefik", "version": "33.2.1", "namespace": "traefik"},
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:external-secrets.io/v1:ExternalSecret",
        "utp-env",
        {
            "metadata": {"namespace": ns},
            "spec": {
                "target": {
                    "template": {
                        "data": {
                            "UTP_DATABASE_URL": "postgresql+asyncpg://u:p@db:5432/utp"
                            "?ssl=verify-full",
                            "UTP_REDIS_URL": "rediss://:t@redis:6379/0",
                        }
                    }
                }
            },
        },
        provider=K8S_EAST,
    )
    s.add(
        "kubernetes:helm.sh/v3:Release",
        "loki",
        {
            "chart": "loki",
            "version": "6.40.0",
            "namespace": "monitoring",
            "values": {
                "loki": {
                    "storage": {"type": "s3", "bucketNames": {"chunks": "loki-use1"}},
                    "limits_config": {"retention_period": "720h"},
                    "compactor": {"retention_enabled": True, "delete_request_store": "s3"},
                }
            },
        },
        provider=K8S_EAST,
    )
    for chart in ("metrics-server", "cluster-autoscaler"):
        s.add(
            "kubernetes:helm.sh/v3:Release",
            chart,
            {"chart": chart, "version": "1.0.0", "namespace": "kube-system"},
            provider=K8S_EAST,
        )
    for suffix, path, middleware in (
        ("", "/", "traefik-rate-limit@kubernetescrd"),
        ("-metrics", "/metrics", "traefik-deny-all@kubernetescrd"),
    ):
        s.add(
            "kubernetes:networking.k8s.io/v1:Ingress",
            f"translator-ingress{suffix}",
            {
                "metadata": {
                    "namespace": ns,
                    "annotations": {"traefik.ingress.kubernetes.io/router.middlewares": middleware},
                },
                "spec": {
                    "rules": [
                        {
                            "host": host,
                            "http": {"paths": [{"path": path, "pathType": "Prefix"}]},
                        }
                        for host in ("api.example.com", "use1.api.example.com")
                    ]
                },
            },
            provider=K8S_EAST,
        )


def _audit(s: GoodStack, key: str) -> None:
    s.add(
        "aws:cloudtrail/trail:Trail",
        "trail",
        {
            "s3BucketName": "audit-logs",
            "isMultiRegionTrail": True,
            "includeGlobalServiceEvents": True,
            "enableLogFileValidation": True,
            "enableLogging": True,
            "kmsKeyId": key,
        },
    )
    for suffix, provider in (("use1", AWS_EAST), ("usw2", AWS_WEST)):
        detector = s.add(
            "aws:guardduty/detector:Detector",
            f"guardduty-{suffix}",
            {"enable": True},
            provider=provider,
        )
        for feature in ("EKS_AUDIT_LOGS", "RUNTIME_MONITORING"):
            s.add(
                "aws:guardduty/detectorFeature:DetectorFeature",
                f"guardduty-{suffix}-{feature.lower()}",
                {"detectorId": detector, "name": feature, "status": "ENABLED"},
                provider=provider,
            )
        s.add(
            "aws:cfg/recorder:Recorder",
            f"config-{suffix}",
            {
                "name": f"config-{suffix}",
                "roleArn": f"arn:aws:iam::{ACCOUNT}:role/config",
                "recordingGroup": {"allSupported": True},
            },
            provider=provider,
        )
        s.add(
            "aws:cfg/deliveryChannel:DeliveryChannel",
            f"config-{suffix}-delivery",
            {"name": f"config-{suffix}", "s3BucketName": "audit-logs"},
            provider=provider,
        )
        s.add(
            "aws:cfg/recorderStatus:RecorderStatus",
            f"config-{suffix}-status",
            {"name": f"config-{suffix}", "isEnabled": True},
            provider=provider,
        )


def _edge(s: GoodStack) -> None:
    lb_arn = arn("elasticloadbalancing", "us-east-1", "loadbalancer/app/alb/1")
    s.add(
        "aws:lb/loadBalancer:LoadBalancer",
        "alb",
        {"internal": False, "loadBalancerType": "application", "dropInvalidHeaderFields": True},
        outputs={"arn": lb_arn},
    )
    acl_arn = arn("wafv2", "us-east-1", "regional/webacl/waf/1")
    s.add(
        "aws:wafv2/webAcl:WebAcl",
        "waf",
        {
            "scope": "REGIONAL",
            "rules": [
                {"name": "rate", "statement": {"rateBasedStatement": {"limit": 2000}}},
                {
                    "name": "common",
                    "statement": {
                        "managedRuleGroupStatement": {
                            "vendorName": "AWS",
                            "name": "AWSManagedRulesCommonRuleSet",
                        }
                    },
                },
                {
                    "name": "block-metrics",
                    "action": {"block": {}},
                    "statement": {
                        "byteMatchStatement": {
                            "fieldToMatch": {"uriPath": {}},
                            "positionalConstraint": "STARTS_WITH",
                            "searchString": "/metrics",
                        }
                    },
                },
            ],
        },
        outputs={"arn": acl_arn},
    )
    s.add(
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "waf-alb",
        {"resourceArn": lb_arn, "webAclArn": acl_arn},
    )


def good_stack() -> list[RecordedResource]:
    s = GoodStack()
    _providers(s)
    key_east = _kms(s, AWS_EAST, "use1")
    key_west = _kms(s, AWS_WEST, "usw2")
    _network(s, key_east)
    _eks(s, key_east)
    _rds(s, key_east, key_west)
    _cache(s, key_east)
    _s3(s, key_east, key_west)
    _dns(s)
    _audit(s, key_east)
    _edge(s)
    _kubernetes(s)
    return s.resources


# --- mutations ---------------------------------------------------------------------------------

Mutation = Callable[[list[RecordedResource]], list[RecordedResource]]
_MISSING = object()


def _edit(container: Any, path: tuple[str | int, ...], value: Any) -> None:
    for key in path[:-1]:
        container = container[key]
    if value is _MISSING:
        del container[path[-1]]
    else:
        container[path[-1]] = value


def set_(name: str, path: str, value: Any = _MISSING) -> Mutation:
    """Set (or with no value, delete) `path` ("a.b.0.c") in the inputs of resource `name`."""
    keys: tuple[str | int, ...] = tuple(int(k) if k.isdigit() else k for k in path.split("."))

    def mutate(resources: list[RecordedResource]) -> list[RecordedResource]:
        out = []
        found = False
        for r in resources:
            if r.name == name:
                found = True
                inputs = copy.deepcopy(r.inputs)
                outputs = copy.deepcopy(r.outputs)
                _edit(inputs, keys, value)
                _edit(outputs, keys, value)
                r = replace(r, inputs=inputs, outputs=outputs)
            out.append(r)
        assert found, f"no resource named {name}"
        return out

    return mutate


def drop(name: str, path: str) -> Mutation:
    return set_(name, path)


def remove(name: str) -> Mutation:
    def mutate(resources: list[RecordedResource]) -> list[RecordedResource]:
        assert any(r.name == name for r in resources), f"no resource named {name}"
        return [r for r in resources if r.name != name]

    return mutate


def unprotect(name: str) -> Mutation:
    def mutate(resources: list[RecordedResource]) -> list[RecordedResource]:
        return [replace(r, protect=False) if r.name == name else r for r in resources]

    return mutate


def move(name: str, provider: str) -> Mutation:
    """Register `name` through another provider (another region)."""

    def mutate(resources: list[RecordedResource]) -> list[RecordedResource]:
        return [replace(r, provider_urn=provider) if r.name == name else r for r in resources]

    return mutate


def retype(name: str, new_type: str) -> Mutation:
    """Register `name` under another type token (e.g. its `*V2` twin)."""

    def mutate(resources: list[RecordedResource]) -> list[RecordedResource]:
        return [
            replace(r, type=new_type, urn=r.urn.replace(r.type, new_type)) if r.name == name else r
            for r in resources
        ]

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(resources: list[RecordedResource]) -> list[RecordedResource]:
        for m in mutations:
            resources = m(resources)
        return resources

    return mutate
