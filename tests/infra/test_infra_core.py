"""KMS, Network, EksCluster and Database components: their security settings, as recorded."""

from __future__ import annotations

import json

import pulumi
import pytest

from infra.database import Database, DatabaseArgs
from infra.eks import ADDON_VERSIONS, CONTROL_PLANE_LOG_TYPES, EksCluster, EksClusterArgs
from infra.kms import PURPOSES, Kms, KmsArgs
from infra.network import Network, NetworkArgs, subnet_plan
from tests.infra.support import aws_opts


def _kms() -> None:
    Kms("k", KmsArgs(region="us-west-2", account_id="123456789012"), opts=aws_opts("us-west-2"))


def test_kms_one_rotating_key_per_purpose(build):
    g = build(_kms)
    keys = g.of_type("aws:kms/key:Key")
    assert {k.inputs["tags"]["Purpose"] for k in keys} == set(PURPOSES)
    assert all(k.inputs["enableKeyRotation"] is True for k in keys)
    logs = next(k for k in keys if k.inputs["tags"]["Purpose"] == "logs")
    policy = json.loads(logs.inputs["policy"])
    services = [s["Principal"].get("Service") for s in policy["Statement"]]
    assert "logs.us-west-2.amazonaws.com" in services
    assert all(g.effective_region(k) == "us-west-2" for k in keys)


def _network(single: bool) -> None:
    Network(
        "n",
        NetworkArgs(
            region="us-east-1",
            cidr="10.10.0.0/16",
            azs=("us-east-1a", "us-east-1b", "us-east-1c"),
            single_nat_gateway=single,
            flow_log_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs",
            flow_log_retention_days=90,
            cluster_name="c",
        ),
        opts=aws_opts(),
    )


@pytest.mark.parametrize(("single", "nats"), [(True, 1), (False, 3)])
def test_network_nat_per_az_or_single(build, single, nats):
    g = build(lambda: _network(single))
    assert len(g.of_type("aws:ec2/natGateway:NatGateway")) == nats
    subnets = g.of_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 9
    assert len({s.inputs["availabilityZone"] for s in subnets}) == 3
    assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets)


def test_network_flow_logs_encrypted_and_endpoints(build):
    g = build(lambda: _network(False))
    (flow,) = g.of_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL"
    (group,) = g.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert group.inputs["retentionInDays"] == 90
    services = {e.inputs["serviceName"] for e in g.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    assert services == {f"com.amazonaws.us-east-1.{s}" for s in ("s3", "ecr.api", "ecr.dkr", "sts")}
    (default_sg,) = g.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default_sg.inputs.get("ingress") and not default_sg.inputs.get("egress")


def test_subnet_plan_does_not_overlap():
    plan = subnet_plan("10.10.0.0/16", 3)
    import ipaddress

    nets = [ipaddress.ip_network(c) for cidrs in plan.values() for c in cidrs]
    assert len(nets) == 9
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])


def _eks(public: tuple[str, ...] = (), version: str = "1.35", min_nodes: int = 2) -> None:
    EksCluster(
        "c",
        EksClusterArgs(
            region="us-east-1",
            kubernetes_version=version,
            vpc_id="vpc-1",
            subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
            secrets_key_arn="arn:aws:kms:us-east-1:123456789012:key/eks",
            logs_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs",
            log_retention_days=90,
            public_access_cidrs=public,
            min_nodes=min_nodes,
            admin_role_arns=("arn:aws:iam::123456789012:role/platform-admin",),
        ),
        opts=aws_opts(),
    )


def test_eks_control_plane_hardening(build):
    g = build(_eks)
    (cluster,) = g.of_type("aws:eks/cluster:Cluster")
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    enc = cluster.inputs["encryptionConfig"]
    assert enc["resources"] == ["secrets"]
    assert enc["provider"]["keyArn"].endswith("key/eks")
    assert set(cluster.inputs["enabledClusterLogTypes"]) == set(CONTROL_PLANE_LOG_TYPES)
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    (group,) = g.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == "/aws/eks/c/cluster"
    assert group.inputs["kmsKeyId"].endswith("key/logs")
    assert g.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    (entry,) = g.of_type("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["principalArn"].endswith("role/platform-admin")


def test_eks_public_endpoint_only_for_listed_cidrs(build):
    g = build(lambda: _eks(public=("203.0.113.0/24",)))
    (cluster,) = g.of_type("aws:eks/cluster:Cluster")
    assert cluster.inputs["vpcConfig"]["endpointPublicAccess"] is True
    assert cluster.inputs["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_eks_nodes_on_hardened_launch_template(build):
    g = build(_eks)
    (lt,) = g.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
    ebs = lt.inputs["blockDeviceMappings"][0]["ebs"]
    assert ebs["volumeType"] == "gp3" and ebs["encrypted"] == "true"
    assert "keyName" not in lt.inputs
    (ng,) = g.of_type("aws:eks/nodeGroup:NodeGroup")
    assert ng.inputs["scalingConfig"]["minSize"] >= 2
    assert len(ng.inputs["subnetIds"]) == 3
    assert ng.inputs["launchTemplate"]["id"]
    assert ng.inputs["updateConfig"]["maxUnavailablePercentage"] > 0


def test_eks_addons_pinned_and_provider_exposed(build):
    g = build(_eks)
    addons = {
        a.inputs["addonName"]: a.inputs["addonVersion"] for a in g.of_type("aws:eks/addon:Addon")
    }
    assert addons == ADDON_VERSIONS["1.35"]
    (sc,) = g.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert sc.inputs["parameters"]["type"] == "gp3"
    assert (
        sc.inputs["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"]
        == "true"
    )
    (k8s_provider,) = g.of_type("pulumi:providers:kubernetes")
    assert sc.provider_urn == k8s_provider.urn
    assert "--region" in k8s_provider.inputs["kubeconfig"]


def test_eks_vpc_cni_enforces_network_policies(build):
    # Without the network policy agent every NetworkPolicy is accepted and ignored.
    g = build(_eks)
    addons = {a.inputs["addonName"]: a for a in g.of_type("aws:eks/addon:Addon")}
    cni = json.loads(addons["vpc-cni"].inputs["configurationValues"])
    assert cni["enableNetworkPolicy"] == "true"
    assert "configurationValues" not in addons["coredns"].inputs


def test_eks_refuses_unpinned_version_and_single_node(build):
    with pytest.raises(ValueError, match="no pinned add-on"):
        build(lambda: _eks(version="1.20"))
    with pytest.raises(ValueError, match="at least 2"):
        build(lambda: _eks(min_nodes=1))


def _db(production: bool, replica_of: str | None = None) -> None:
    Database(
        "db",
        DatabaseArgs(
            region="us-west-2" if replica_of else "us-east-1",
            vpc_id="vpc-1",
            subnet_ids=["s1", "s2", "s3"],
            client_security_group_ids=["sg-cluster"],
            kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/rds",
            logs_key_arn="arn:aws:kms:us-east-1:123456789012:key/logs",
            log_retention_days=30,
            instance_class="db.t4g.medium",
            backup_retention_days=30 if production else 7,
            production=production,
            replicate_source_db=replica_of,
            secret_replica_region=None if replica_of else "us-west-2",
            secret_replica_kms_key_arn=None if replica_of else "arn:aws:kms:us-west-2:1:key/sm",
        ),
        opts=aws_opts("us-west-2" if replica_of else "us-east-1"),
    )


def test_database_primary_security(build):
    g = build(lambda: _db(production=True))
    (db,) = g.of_type("aws:rds/instance:Instance")
    i = db.inputs
    # The major version only: AWS's automatic minor upgrades never look like a downgrade.
    assert i["engine"] == "postgres" and i["engineVersion"] == "16"
    assert i["autoMinorVersionUpgrade"] is True
    assert i["storageEncrypted"] is True and i["kmsKeyId"].endswith("key/rds")
    assert i["publiclyAccessible"] is False and i["multiAz"] is True
    assert i["performanceInsightsEnabled"] is True and i["performanceInsightsKmsKeyId"]
    assert i["monitoringInterval"] > 0 and i["monitoringRoleArn"]
    assert set(i["enabledCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert i["maxAllocatedStorage"] > i["allocatedStorage"]
    assert i["deletionProtection"] is True and i["skipFinalSnapshot"] is False
    assert i["finalSnapshotIdentifier"] and i["backupRetentionPeriod"] == 30
    assert db.protect is True
    (params,) = g.of_type("aws:rds/parameterGroup:ParameterGroup")
    values = {p["name"]: p["value"] for p in params.inputs["parameters"]}
    assert values["rds.force_ssl"] == "1" and int(values["log_min_duration_statement"]) > 0
    (sg,) = g.of_type("aws:ec2/securityGroup:SecurityGroup")
    (rule,) = sg.inputs["ingress"]
    assert rule["fromPort"] == 5432 and rule["securityGroups"] == ["sg-cluster"]
    assert not rule.get("cidrBlocks")


def test_database_credentials_support_a_cross_region_replica(build):
    """RDS cannot create a read replica of a source whose master password RDS manages in
    Secrets Manager: the password is generated here and kept in a secret replicated west."""
    g = build(lambda: _db(production=True))
    (db,) = g.of_type("aws:rds/instance:Instance")
    assert not db.inputs.get("manageMasterUserPassword")
    assert db.inputs["password"] == "[secret]"  # a Pulumi secret, never plain in the plan
    (password,) = g.of_type("random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] >= 32 and password.inputs["keepers"] == {"rotation": "1"}
    (secret,) = g.of_type("aws:secretsmanager/secret:Secret")
    assert secret.inputs["name"] == "db/master-credentials"
    assert secret.inputs["replicas"] == [
        {"region": "us-west-2", "kmsKeyId": "arn:aws:kms:us-west-2:1:key/sm"}
    ]
    (version,) = g.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert version.inputs["secretString"] == "[secret]"


def test_database_replica_skips_the_final_snapshot(build):
    """RDS takes no final snapshot of a read replica: asking for one fails its deletion."""
    source = "arn:aws:rds:us-east-1:123456789012:db:primary"
    g = build(lambda: _db(production=True, replica_of=source))
    (db,) = g.of_type("aws:rds/instance:Instance")
    assert db.inputs["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in db.inputs
    assert not g.of_type("aws:secretsmanager/secret:Secret")


def test_database_staging_is_not_protected(build):
    g = build(lambda: _db(production=False))
    (db,) = g.of_type("aws:rds/instance:Instance")
    assert db.inputs["deletionProtection"] is False and db.inputs["skipFinalSnapshot"] is True
    assert db.protect is False


def test_database_replica_is_promotable(build):
    source = "arn:aws:rds:us-east-1:123456789012:db:primary"
    g = build(lambda: _db(production=False, replica_of=source))
    (db,) = g.of_type("aws:rds/instance:Instance")
    assert db.inputs["replicateSourceDb"] == source
    assert db.inputs["backupRetentionPeriod"] > 0
    assert "username" not in db.inputs and "manageMasterUserPassword" not in db.inputs
    assert g.effective_region(db) == "us-west-2"
    assert len(g.of_type("aws:rds/subnetGroup:SubnetGroup")) == 1


def test_database_refuses_other_engines(build):
    def program() -> None:
        Database(
            "db",
            DatabaseArgs(
                region="us-east-1",
                vpc_id="v",
                subnet_ids=["s"],
                client_security_group_ids=[],
                kms_key_arn="k",
                logs_key_arn="l",
                log_retention_days=1,
                instance_class="db.t4g.micro",
                engine_version="15.4",
            ),
            opts=pulumi.ResourceOptions(),
        )

    with pytest.raises(ValueError, match="PostgreSQL 16"):
        build(program)
