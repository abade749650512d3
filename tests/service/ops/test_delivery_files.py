"""The delivery pipeline and the image recipe, checked as files (they cannot run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
OURS = ("ci.yml", "deliver.yml")
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")


def _load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(doc, dict), name
    # YAML 1.1 reads the bare key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def _uses(doc: dict[str, Any]) -> list[str]:
    return [
        step["uses"]
        for job in doc["jobs"].values()
        for step in job.get("steps", [])
        if "uses" in step
    ]


def _runs(doc: dict[str, Any], job: str) -> str:
    return "\n".join(step.get("run", "") for step in doc["jobs"][job].get("steps", []))


@pytest.mark.parametrize("name", OURS)
def test_every_action_is_pinned_to_a_commit(name: str) -> None:
    doc = _load(name)
    uses = _uses(doc)
    assert uses
    unpinned = [u for u in uses if not PINNED.match(u)]
    assert not unpinned, f"{name}: not pinned to a 40-hex commit: {unpinned}"
    text = (WORKFLOWS / name).read_text()
    for line in text.splitlines():
        if "uses:" in line and "@" in line:
            assert re.search(r"# v\d", line), f"{name}: say which tag a SHA is: {line.strip()}"
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_ci_runs_lint_tests_policy_and_preview_per_stack_with_oidc() -> None:
    doc = _load("ci.yml")
    assert "pull_request" in doc["on"]
    assert {"lint", "test", "policy-check", "preview"} <= set(doc["jobs"])
    assert "make lint" in _runs(doc, "lint") and "make test" in _runs(doc, "test")
    assert "policy-check --stack" in _runs(doc, "policy-check")
    preview = doc["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["staging", "production"]
    assert preview["permissions"]["id-token"] == "write"
    [pulumi] = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["policyPacks"] == "policies"
    [aws] = [s for s in preview["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert "role-to-assume" in aws["with"]


def test_deliver_builds_scans_signs_and_deploys() -> None:
    doc = _load("deliver.yml")
    on = doc["on"]
    assert on["push"]["branches"] == ["main"] and on["push"]["tags"] == ["v*"]
    assert "workflow_dispatch" in on
    jobs = doc["jobs"]
    build = next(s for s in jobs["image"]["steps"] if "build-push-action" in s.get("uses", ""))
    assert set(build["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["with"]["file"] == "service/Dockerfile"
    # The stacks decide the repository names; the workflow asks them, never a repo variable.
    assert "utp-infra image-repository --stack" in _runs(doc, "image")
    assert "ECR_REPOSITORY" not in (WORKFLOWS / "deliver.yml").read_text()
    gate = jobs["sbom-scan-sign"]
    uses = [s.get("uses", "") for s in gate["steps"]]
    assert any(u.startswith("anchore/sbom-action@") for u in uses)
    trivy = next(s for s in gate["steps"] if "trivy-action" in s.get("uses", ""))
    assert trivy["with"]["exit-code"] == "1"
    assert "cosign sign" in _runs(doc, "sbom-scan-sign")
    assert "utp-infra deploy --stack staging" in _runs(doc, "deploy-staging")
    assert "sbom-scan-sign" in jobs["deploy-staging"]["needs"]
    production = jobs["deploy-production"]
    assert production["environment"] == "production"
    assert production["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert "utp-infra deploy --stack production" in _runs(doc, "deploy-production")
    assert "utp-infra rollback --stack production --yes" in _runs(doc, "deploy-production")
    assert "rollback" in _runs(doc, "emergency")


def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    text = (ROOT / "service" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.MULTILINE)
    assert len(stages) >= 2 and stages[-1] == "runtime"
    final = text[text.rindex("FROM ") :]
    assert re.search(r"^USER\s+10001", final, re.MULTILINE)
    assert "HEALTHCHECK" in final and "/health/live" in final
    assert "org.opencontainers.image.source" in final
    for pair in ("apertium-eng-spa", "apertium-eng-cat", "apertium-fr-es", "apertium-es-pt"):
        assert pair in final
    assert not re.search(r"\b(gcc|build-essential)\b", final)
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {".git", ".venv", "tests", "var"} <= {line.strip().rstrip("/") for line in ignored}
