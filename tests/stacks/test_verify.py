"""`utp-infra verify`: both stacks pass, and each check catches what the real APIs refuse."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from stacks.cli import _register, cli
from stacks.config import STACKS
from stacks.graph import RecordedResource
from stacks.regions import GraphIndex
from stacks.verify import verify
from stacks.verify.crds import crd_order_problems
from stacks.verify.names import name_problems
from stacks.verify.regional import regional_problems

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str):
    _register()
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("stack", STACKS)
def test_both_stacks_pass(stack):
    result = _run("verify", "--stack", stack)
    assert result.exit_code == 0, result.output
    assert f"verify: {stack}: no problems" in result.output


def _copy_stack(tmp_path: Path, edit) -> Path:
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    doc = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())
    edit(doc["config"])
    (tmp_path / "Pulumi.staging.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_config_is_read_as_the_engine_passes_it(tmp_path, monkeypatch):
    """The engine adds Pulumi.yaml's keys; a stack with no way into its clusters fails."""
    root = _copy_stack(tmp_path, lambda c: c["utp:cluster"].pop("deployRoleArn"))
    (line,) = verify("staging", root)
    assert line.startswith("config: ") and "deployRoleArn: required" in line
    monkeypatch.setattr("stacks.config.REPO_ROOT", root)
    result = _run("verify", "--stack", "staging")
    assert result.exit_code == 1 and result.output.strip() == line


@pytest.fixture(scope="module")
def staging_graph() -> list[RecordedResource]:
    from stacks.offline import build_graph

    return build_graph("staging")


def _without_dependencies(graph: list[RecordedResource], names: set[str]):
    return [dataclasses.replace(r, depends_on=()) if r.name in names else r for r in graph]


def test_custom_resources_and_charts_that_enable_them_wait_for_their_crds(staging_graph):
    assert crd_order_problems(staging_graph) == []
    # Ordered only after the secrets operator (as before): the CRDs may come later.
    broken = _without_dependencies(staging_graph, {"utp-stg-use1-ingress"})
    problems = crd_order_problems(broken)
    assert any(
        p.startswith(
            "crds: utp-stg-use1-ingress-traefik (kubernetes:helm.sh/v3:Release) does not"
            " wait for utp-stg-use1-prometheus-crds-release"
        )
        for p in problems
    ), problems
    index = GraphIndex(staging_graph)
    crds = [r.urn for r in index.graph if r.name.endswith("prometheus-crds-release")]
    gone = [r for r in staging_graph if r.urn not in crds]
    assert any("nothing in its cluster installs them" in p for p in crd_order_problems(gone))


def _renamed(graph, typ: str, field: str, value: str):
    out = []
    for r in graph:
        if r.type == typ:
            r = dataclasses.replace(r, inputs={**r.inputs, field: value})
        out.append(r)
    return out


@pytest.mark.parametrize(
    ("typ", "field", "value", "message"),
    [
        ("aws:iam/role:Role", "name", "r" * 65, "IAM role name .* 65 characters, the limit is 64"),
        (
            "aws:elasticache/replicationGroup:ReplicationGroup",
            "replicationGroupId",
            "utp-staging-us-east-1-translator-cache-redis",
            "the limit is 40",
        ),
        ("aws:rds/instance:Instance", "identifier", "Utp_DB", "RDS DB instance identifier"),
        ("aws:s3/bucket:Bucket", "bucket", "utp-stg-use1-backups", "not unique to this account"),
    ],
)
def test_physical_name_limits(staging_graph, typ, field, value, message):
    assert name_problems(staging_graph) == []
    problems = name_problems(_renamed(staging_graph, typ, field, value))
    assert problems and all(re.search(message, p) for p in problems), problems


def test_autonamed_resources_count_the_random_suffix(staging_graph):
    (role, *_) = [r for r in staging_graph if r.type == "aws:iam/role:Role"]
    long_role = dataclasses.replace(role, name="x" * 57)  # + "-" + 7 hex = 65
    (problem,) = name_problems([long_role])
    assert "65 characters" in problem


def test_instance_types_must_be_offered_in_the_region(staging_graph):
    assert regional_problems(staging_graph) == []
    broken = [
        dataclasses.replace(r, inputs={**r.inputs, "instanceTypes": ["m6i.lrage"]})
        if r.type == "aws:eks/nodeGroup:NodeGroup"
        else r
        for r in staging_graph
    ]
    problems = regional_problems(broken)
    # Each region's default and spot pool.
    assert len(problems) == 4 and all("m6i.lrage is not offered in" in p for p in problems)


def _with_values(graph, release: str, values: dict):
    return [
        dataclasses.replace(r, inputs={**r.inputs, "values": values}) if r.name == release else r
        for r in graph
    ]


@pytest.mark.parametrize(
    ("release", "values", "unknown"),
    [
        ("utp-stg-use1-ingress-traefik", {"deployment": {"replica": 2}}, "deployment.replica"),
        # cert-manager spells it `servicemonitor`: Helm would silently drop this.
        (
            "utp-stg-use1-ingress-cert-manager",
            {"prometheus": {"serviceMonitor": {"enabled": True}}},
            "prometheus.serviceMonitor.enabled",
        ),
        (
            "utp-stg-use1-monitoring-kube-prometheus-stack",
            {"prometheus": {"prometheusSpec": {"retension": "15d"}}},
            "prometheus.prometheusSpec.retension",
        ),
    ],
)
def test_helm_values_must_exist_in_the_pinned_chart(staging_graph, release, values, unknown):
    from stacks.verify.helm_values import helm_value_problems

    assert helm_value_problems(staging_graph) == []
    (problem,) = helm_value_problems(_with_values(staging_graph, release, values))
    assert problem.startswith(f"helm: {release}: {unknown} is not a value of chart")


def test_a_chart_bumped_without_its_values_record_is_reported(staging_graph):
    from stacks.verify.helm_values import helm_value_problems

    bumped = [
        dataclasses.replace(r, inputs={**r.inputs, "version": "99.0.0"})
        if r.name == "utp-stg-use1-ingress-traefik"
        else r
        for r in staging_graph
    ]
    (problem,) = helm_value_problems(bumped)
    assert "no record of chart traefik 99.0.0's values" in problem


def test_kubernetes_resources_wait_for_the_admin_access_entry(staging_graph):
    """EKS answers Unauthorized until the caller's access entry exists: each cluster's
    provider (and so every Kubernetes resource) waits for it, the nodes and CoreDNS."""
    from stacks.verify.access import access_problems

    assert access_problems(staging_graph) == []
    index = GraphIndex(staging_graph)
    for provider in index.of_type("pulumi:providers:kubernetes"):
        waits = {index.by_urn[u].type for u in provider.depends_on}
        assert {
            "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
            "aws:eks/nodeGroup:NodeGroup",
            "aws:eks/addon:Addon",
        } <= waits
    unordered = [
        dataclasses.replace(r, depends_on=()) if r.type == "pulumi:providers:kubernetes" else r
        for r in staging_graph
    ]
    problems = access_problems(unordered)
    assert len(problems) == 2 and all("does not wait for an" in p for p in problems)


def _edited(graph, typ: str, edit):
    """`graph` with `edit(inputs)` applied to a deep copy of every `typ` resource's inputs."""
    out = []
    for r in graph:
        if r.type == typ:
            inputs = copy.deepcopy(r.inputs)
            edit(inputs)
            r = dataclasses.replace(r, inputs=inputs)
        out.append(r)
    return out


def _first_container(inputs):
    return inputs["spec"]["template"]["spec"]["containers"][0]


DEPLOYMENT = "kubernetes:apps/v1:Deployment"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


@pytest.mark.parametrize(
    ("typ", "edit", "problem"),
    [
        # Unknown properties: the SDK passes a plain dict's keys through untranslated.
        (
            DEPLOYMENT,
            lambda i: _first_container(i).update(imagePullPolcy="Always"),
            "spec.template.spec.containers[0].imagePullPolcy: not a property of Container",
        ),
        (
            LAUNCH_TEMPLATE,
            lambda i: i["metadataOptions"].update(httpToken="required"),
            "metadataOptions.httpToken: not a property of LaunchTemplateMetadataOptions",
        ),
        # Missing required properties.
        (
            DEPLOYMENT,
            lambda i: i["spec"].pop("selector"),
            "spec.selector: required by DeploymentSpec, missing",
        ),
        (
            "aws:route53/record:Record",
            lambda i: i.pop("zoneId"),
            "zoneId: required by Record, missing",
        ),
        # Wrong types.
        (DEPLOYMENT, lambda i: i["spec"].update(replicas="2"), "spec.replicas: expected integer"),
        (
            "kubernetes:core/v1:Service",
            lambda i: i["spec"]["ports"][0].update(targetPort=[8080]),
            "spec.ports[0].targetPort: expected integer or string, got array [8080]",
        ),
        (
            LAUNCH_TEMPLATE,
            lambda i: i["metadataOptions"].update(httpPutResponseHopLimit=1.5),
            "metadataOptions.httpPutResponseHopLimit: expected integer, got number 1.5",
        ),
        # Values outside the schema's enum.
        (
            "aws:route53/record:Record",
            lambda i: i.update(type="AAA"),
            "type: 'AAA' is not one of A, AAAA, CAA,",
        ),
        (DEPLOYMENT, lambda i: i.update(kind="Deploymnet"), "kind: 'Deploymnet' is not one of"),
    ],
)
def test_inputs_must_match_the_provider_schema(staging_graph, typ, edit, problem):
    from stacks.verify.schema import schema_problems

    assert schema_problems(staging_graph) == []
    problems = schema_problems(_edited(staging_graph, typ, edit))
    assert problems, problems
    assert all(p.startswith("schema: ") and f"({typ}): {problem}" in p for p in problems), problems


def test_secrets_and_custom_resources_are_not_judged(staging_graph):
    """A masked secret has no type to check; a CRD's resources are in no provider schema."""
    from stacks.verify.schema import schema_problems

    masked = _edited(staging_graph, DEPLOYMENT, lambda i: i["spec"].update(replicas="[secret]"))
    assert schema_problems(masked) == []
    custom = _edited(
        staging_graph,
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        lambda i: i.update(anything="goes"),
    )
    assert schema_problems(custom) == []


def test_the_recorded_schemas_match_the_installed_providers():
    """A provider bump without re-recording fails here (and in `utp-infra verify`)."""
    from importlib import metadata

    from stacks.verify.schema import PACKAGES, RECORD_COMMAND, record_path

    for package in PACKAGES.values():
        installed = metadata.version(package)
        assert record_path(package, installed).is_file(), (
            f"{package} {installed} is installed but its schema is not recorded: run"
            f" `{RECORD_COMMAND}` and commit infra/data/schemas/"
        )
        pin = f'"{package}=={installed}"'
        assert pin in (ROOT / "pyproject.toml").read_text(), f"pyproject.toml must pin {pin}"


def test_a_provider_without_a_recorded_schema_is_reported(staging_graph, tmp_path):
    from stacks.verify.schema import schema_problems

    problems = schema_problems(staging_graph, data_dir=tmp_path)
    assert len(problems) == 3, problems
    for package, line in zip(
        ("pulumi-aws", "pulumi-kubernetes", "pulumi-random"), sorted(problems), strict=True
    ):
        assert line.startswith(f"schema: no record of {package} ") and (
            "python scripts/record_provider_schemas.py" in line
        ), line
    unrecorded = [
        dataclasses.replace(r, type="aws:ec2/instance:Instance") for r in staging_graph[:1]
    ]
    (problem,) = schema_problems([dataclasses.replace(unrecorded[0], custom=True)])
    assert "not in the recorded pulumi-aws" in problem


@pytest.mark.parametrize(
    ("prefix", "token"),
    [
        ("kubernetes", DEPLOYMENT),
        ("aws", LAUNCH_TEMPLATE),
        ("random", "random:index/randomPassword:RandomPassword"),
    ],
)
def test_the_recorded_schema_is_what_the_script_derives_from_the_sdk(prefix, token):
    """The data is the script's output for the installed SDK, not edited by hand."""
    import importlib.util

    from stacks.verify.schema import PACKAGES, schema_record

    spec = importlib.util.spec_from_file_location(
        "record_provider_schemas", ROOT / "scripts" / "record_provider_schemas.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    derived = script.record(prefix, {token})
    from importlib import metadata

    stored = schema_record(PACKAGES[prefix], metadata.version(PACKAGES[prefix]))
    assert stored is not None
    assert stored["source"] == derived["source"] and stored["why"]
    assert stored["resources"][token] == derived["resources"][token]
    for key, schema in derived["types"].items():
        assert stored["types"][key] == schema, key
