"""The pack as the Pulumi CLI loads it: `policies/__main__.py` serving the analyzer over gRPC.

The CLI starts the pack, reads the port it prints, asks for its info (policies and initial
config), configures it with that config and sends every resource to `Analyze` and the stack to
`AnalyzeStack`. These tests do the same and check the offline runner reports the same findings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.enforcement import pack_config
from policies.offline import check
from policies.rules import ALL
from stacks.graph import RecordedResource
from tests.policies.factories import both, drop, good_stack, remove, set_, unprotect

ROOT = Path(__file__).resolve().parents[2]
LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
}


def _serve(stack: str) -> Iterator[Any]:
    env = {**os.environ, "PULUMI_STACK": stack}
    env.pop("UTP_POLICY_ENVIRONMENT", None)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "policies" / "__main__.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT / "policies",
        env=env,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().decode().strip() or "0")
        assert port, proc.stderr.read().decode() if proc.stderr else "no port printed"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=20)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def staging_pack() -> Iterator[Any]:
    yield from _serve("staging")


@pytest.fixture(scope="module")
def production_pack() -> Iterator[Any]:
    yield from _serve("production")


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(props)
    return out


def _configure_like_the_cli(stub: Any) -> Any:
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    configure = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, cfg in info.initialConfig.items():
        configure.policyConfig[name].CopyFrom(cfg)
    stub.Configure(configure)
    return info


def _analyze(stub: Any, resources: list[RecordedResource]) -> set[tuple[str, str, str, str]]:
    """Every diagnostic the served pack reports: (rule, level, urn, message)."""
    providers = {r.urn: r for r in resources if r.type.startswith("pulumi:providers:")}

    def provider(rec: RecordedResource) -> Any:
        p = providers.get(rec.provider_urn or "")
        if p is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=p.type, properties=_struct(dict(p.inputs)), urn=p.urn, name=p.name
        )

    def options(rec: RecordedResource) -> Any:
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=rec.protect, parent=rec.parent_urn or ""
        )

    found: set[tuple[str, str, str, str]] = set()

    def collect(response: Any, default_urn: str) -> None:
        for d in response.diagnostics:
            message = d.message.split("\n", 1)[1] if "\n" in d.message else ""
            found.add((d.policyName, LEVELS[d.enforcementLevel], d.urn or default_urn, message))

    for rec in resources:
        if not rec.custom:
            continue
        request = analyzer_pb2.AnalyzeRequest(
            type=rec.type,
            properties=_struct(dict(rec.inputs)),
            urn=rec.urn,
            name=rec.name,
            options=options(rec),
        )
        prov = provider(rec)
        if prov is not None:
            request.provider.CopyFrom(prov)
        collect(stub.Analyze(request), rec.urn)

    stack = analyzer_pb2.AnalyzeStackRequest()
    for rec in resources:
        item = analyzer_pb2.AnalyzerResource(
            type=rec.type,
            properties=_struct({**rec.inputs, **rec.outputs}),
            urn=rec.urn,
            name=rec.name,
            options=options(rec),
            parent=rec.parent_urn or "",
        )
        prov = provider(rec)
        if prov is not None:
            item.provider.CopyFrom(prov)
        stack.resources.append(item)
    collect(stub.AnalyzeStack(stack), "")
    return found


def _offline(resources: list[RecordedResource], stack: str) -> set[tuple[str, str, str, str]]:
    report = check(resources, stack)
    return {(v.rule, v.level, v.urn or "", v.message) for v in report.violations}


MUTATED = both(
    set_("db-replica", "storageEncrypted", False),
    set_("db-primary", "deletionProtection", False),
    remove("backups-pab"),
    set_("translator-pdb", "spec.maxUnavailable", 0),
    drop("translator-pdb", "spec.minAvailable"),
    set_("translator-hpa", "spec.minReplicas", 1),
    set_("flow-logs", "retentionInDays", 0),
    unprotect("redis"),
)


def test_served_pack_lists_every_rule(production_pack: Any) -> None:
    info = production_pack.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "utp-guardrails"
    assert sorted(p.name for p in info.policies) == sorted(r.name for r in ALL)
    assert len(info.policies) >= 40
    assert all(p.description for p in info.policies)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_initial_config_follows_the_stack(
    stack: str, staging_pack: Any, production_pack: Any
) -> None:
    stub = staging_pack if stack == "staging" else production_pack
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    served = {name: LEVELS[cfg.enforcementLevel] for name, cfg in info.initialConfig.items()}
    expected = {name: v["enforcementLevel"] for name, v in pack_config(ALL, stack).items()}
    assert served == expected
    assert "aws-rds-deletion-protection" in served


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_cli_and_offline_runner_report_the_same(
    stack: str, staging_pack: Any, production_pack: Any
) -> None:
    stub = staging_pack if stack == "staging" else production_pack
    _configure_like_the_cli(stub)
    resources = MUTATED(good_stack())

    served = _analyze(stub, resources)
    offline = _offline(resources, stack)

    assert served == offline
    rules = {rule for rule, *_ in served}
    assert {
        "aws-rds-storage-encrypted",
        "aws-rds-deletion-protection",
        "aws-s3-public-access-block",
        "k8s-pdb-not-blocking",
        "k8s-hpa-bounds",
        "aws-logs-retention",
        "pulumi-stateful-resources-protected",
    } == rules
    deletion = {level for rule, level, *_ in served if rule == "aws-rds-deletion-protection"}
    assert deletion == {"advisory" if stack == "staging" else "mandatory"}


def test_good_stack_is_clean_through_the_cli_path(production_pack: Any) -> None:
    _configure_like_the_cli(production_pack)
    assert _analyze(production_pack, good_stack()) == set()
