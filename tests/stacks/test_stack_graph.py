"""The whole program per stack: key resources, regions, cross-region wiring, protections."""

from __future__ import annotations

import json

import pytest

from stacks.graph import RecordedResource
from stacks.regions import GraphIndex

EAST, WEST = "us-east-1", "us-west-2"


def _regions(g: GraphIndex, typ: str) -> list[str | None]:
    return sorted(g.effective_region(r) or "" for r in g.of_type(typ))


@pytest.fixture(params=["staging", "production"])
def graph(request) -> GraphIndex:
    return request.getfixturevalue(request.param)


def test_every_resource_is_recorded_with_its_kind(graph):
    assert all(isinstance(r, RecordedResource) for r in graph.graph)
    assert len(graph.of_type("pulumi:pulumi:Stack")) == 1
    assert {r.inputs["region"] for r in graph.of_type("pulumi:providers:aws")} == {EAST, WEST}
    assert len(graph.of_type("pulumi:providers:kubernetes")) == 2
    assert any(not r.custom for r in graph.graph if r.type.startswith("utp:"))


def test_no_default_provider_and_regions_as_declared(graph):
    for r in graph.graph:
        if r.custom and not r.type.startswith("pulumi:providers:"):
            assert r.provider_urn, f"{r.name} uses a default provider"
            assert graph.effective_region(r) == graph.declared_region(r), r.name


def test_key_resources_in_each_region(graph):
    assert _regions(graph, "aws:eks/cluster:Cluster") == [EAST, WEST]
    assert _regions(graph, "aws:rds/instance:Instance") == [EAST, WEST]
    assert _regions(graph, "aws:elasticache/replicationGroup:ReplicationGroup") == [EAST, WEST]
    # The service in each region, and the backup-metrics exporter next to the backups.
    assert _regions(graph, "kubernetes:apps/v1:Deployment") == [EAST, EAST, WEST]
    assert _regions(graph, "aws:route53/healthCheck:HealthCheck") == [EAST, EAST]
    assert _regions(graph, "aws:budgets/budget:Budget") == [EAST, EAST]  # monthly, yearly


def test_replica_follows_primary_with_west_key(graph):
    dbs = {graph.effective_region(r): r for r in graph.of_type("aws:rds/instance:Instance")}
    primary, replica = dbs[EAST], dbs[WEST]
    assert replica.inputs["replicateSourceDb"] == primary.outputs["arn"]
    kms = {r.outputs["arn"]: graph.effective_region(r) for r in graph.of_type("aws:kms/key:Key")}
    assert kms[replica.inputs["kmsKeyId"]] == WEST
    assert kms[primary.inputs["kmsKeyId"]] == EAST
    assert replica.inputs["backupRetentionPeriod"] > 0


@pytest.mark.parametrize("kind", ["backups", "audit-logs"])
def test_backup_and_audit_buckets_replicate_east_to_west(graph, kind):
    buckets = {
        graph.effective_region(b): b
        for b in graph.of_type("aws:s3/bucket:Bucket")
        if not b.name.endswith("access-logs") and f"-{kind}-" in b.name
    }
    (replication,) = [
        r
        for r in graph.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        if f"-{kind}-" in r.name
    ]
    assert graph.effective_region(replication) == EAST
    assert replication.inputs["bucket"] == buckets[EAST].outputs["id"]
    destination = replication.inputs["rules"][0]["destination"]
    assert destination["bucket"] == buckets[WEST].outputs["arn"]
    kms = {r.outputs["arn"]: graph.effective_region(r) for r in graph.of_type("aws:kms/key:Key")}
    assert kms[destination["encryptionConfiguration"]["replicaKmsKeyId"]] == WEST
    assert destination["replicationTime"]["status"] == "Enabled"


def test_failover_records_use_primary_health_check(graph):
    records = [
        r
        for r in graph.of_type("aws:route53/record:Record")
        if r.inputs.get("failoverRoutingPolicies")
    ]
    by_type = {r.inputs["failoverRoutingPolicies"][0]["type"]: r for r in records}
    assert set(by_type) == {"PRIMARY", "SECONDARY"}
    checks = {c.name: c for c in graph.of_type("aws:route53/healthCheck:HealthCheck")}
    primary_check = next(c for n, c in checks.items() if "primary" in n)
    assert by_type["PRIMARY"].inputs["healthCheckId"] == primary_check.outputs["id"]
    assert by_type["SECONDARY"].inputs["healthCheckId"] != primary_check.outputs["id"]
    assert primary_check.inputs["resourcePath"] == "/health/ready"
    assert primary_check.inputs["type"] == "HTTPS"
    assert by_type["PRIMARY"].inputs["name"] == by_type["SECONDARY"].inputs["name"]
    (alarm,) = graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["namespace"] == "AWS/Route53"


def test_protection_in_production_only(staging, production):
    def protected(g: GraphIndex, typ: str) -> list[bool]:
        return [r.protect for r in g.of_type(typ)]

    for typ in (
        "aws:rds/instance:Instance",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:kms/key:Key",
        "aws:route53/zone:Zone",
    ):
        assert all(protected(production, typ)), typ
        assert not any(protected(staging, typ)), typ
    assert all(
        r.inputs["deletionProtection"] for r in production.of_type("aws:rds/instance:Instance")
    )
    assert not any(
        r.inputs["deletionProtection"] for r in staging.of_type("aws:rds/instance:Instance")
    )
    assert len(production.of_type("aws:ec2/natGateway:NatGateway")) == 6
    assert len(staging.of_type("aws:ec2/natGateway:NatGateway")) == 2


def test_dr_service_is_warm_and_points_at_replica(graph):
    deployments = [
        graph.effective_region(d)
        for d in graph.of_type("kubernetes:apps/v1:Deployment")
        if d.inputs["metadata"]["name"] == "utp"
    ]
    assert sorted(deployments) == [EAST, WEST]
    jobs = [graph.effective_region(j) for j in graph.of_type("kubernetes:batch/v1:Job")]
    assert jobs == [EAST]  # the read-only replica is never migrated
    secrets = {
        graph.effective_region(e): e
        for e in graph.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if e.inputs["metadata"]["name"] == "utp-env"
    }
    replica = next(
        r for r in graph.of_type("aws:rds/instance:Instance") if graph.effective_region(r) == WEST
    )
    assert (
        replica.outputs["address"]
        in secrets[WEST].inputs["spec"]["target"]["template"]["data"]["UTP_DATABASE_URL"]
    )


def test_no_secret_leaks_into_recorded_inputs(production):
    text = json.dumps([r.inputs for r in production.graph], default=str)
    assert "[secret]" in text  # auth tokens and signing keys are masked, not dropped


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_each_cluster_has_an_admin_access_entry_for_the_deploy_role(stack, request):
    from stacks.config import load_stack_config

    graph = request.getfixturevalue(stack)
    deploy_role = load_stack_config(stack).cluster.deploy_role_arn
    policies = graph.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    admins = {
        (graph.effective_region(p), p.inputs["principalArn"])
        for p in policies
        if p.inputs["policyArn"].endswith("cluster-access-policy/AmazonEKSClusterAdminPolicy")
        and p.inputs["accessScope"] == {"type": "cluster"}
    }
    assert {("us-east-1", deploy_role), ("us-west-2", deploy_role)} <= admins
    for cluster in graph.of_type("aws:eks/cluster:Cluster"):
        vpc = cluster.inputs["vpcConfig"]
        assert vpc["endpointPublicAccess"] and vpc["publicAccessCidrs"]


def test_dr_registry_template_has_the_role_ecr_needs_for_kms(graph):
    """A creation template with a KMS key needs a custom role (ECR's service-linked role may
    only create repositories), or replication cannot create the DR repository."""
    (template,) = graph.of_type("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")
    assert graph.effective_region(template) == WEST
    assert template.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"
    roles = {r.outputs["arn"]: r for r in graph.of_type("aws:iam/role:Role")}
    role = roles[template.inputs["customRoleArn"]]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ecr.amazonaws.com"}
    (policy,) = [
        p
        for p in graph.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["role"] == role.outputs["id"]
    ]
    actions = {a for s in json.loads(policy.inputs["policy"])["Statement"] for a in s["Action"]}
    assert {"ecr:ReplicateImage", "kms:CreateGrant", "kms:DescribeKey"} <= actions


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_ci_pushes_to_the_repository_the_stack_pulls_from(stack, request):
    from click.testing import CliRunner

    from stacks.cli import _register, cli

    _register()
    printed = CliRunner().invoke(cli, ["image-repository", "--stack", stack]).output.strip()
    (repository,) = request.getfixturevalue(stack).of_type("aws:ecr/repository:Repository")
    assert repository.inputs["name"] == printed == f"utp-{stack}/service"
