"""The image's CycloneDX SBOM and the pins pip-audit reads (scripts/image_sbom.py)."""

from __future__ import annotations

import json

from scripts.image_sbom import Packages, audit_verdict, requirements, sbom

PACKAGES = Packages(
    deb=[("apertium", "3.8.3-1", "amd64"), ("postgresql-client-15", "15.10-0+deb12u1", "amd64")],
    python=[
        ("litestar", "2.25.0"),
        ("Typing_Extensions", "4.12.2"),
        ("universal-translator-pro", "0.1.0"),
    ],
)


def test_sbom_is_cyclonedx_with_a_purl_per_debian_and_python_package() -> None:
    doc = json.loads(sbom("utp:dev", PACKAGES))
    assert doc["bomFormat"] == "CycloneDX" and doc["specVersion"] == "1.6"
    assert doc["metadata"]["component"] == {
        "bom-ref": "utp:dev",
        "name": "utp:dev",
        "type": "container",
    }
    purls = {c["purl"] for c in doc["components"]}
    assert purls == {
        "pkg:deb/debian/apertium@3.8.3-1?arch=amd64",
        "pkg:deb/debian/postgresql-client-15@15.10-0%2Bdeb12u1?arch=amd64",
        "pkg:pypi/litestar@2.25.0",
        "pkg:pypi/typing-extensions@4.12.2",
        "pkg:pypi/universal-translator-pro@0.1.0",
    }
    [root] = [d for d in doc["dependencies"] if d["ref"] == "utp:dev"]
    assert len(root["dependsOn"]) == 5


def test_requirements_pin_every_dependency_but_the_service_itself() -> None:
    assert requirements(PACKAGES).splitlines() == ["litestar==2.25.0", "Typing_Extensions==4.12.2"]


def _dep(name: str, *vulns: str, skipped: bool = False) -> dict[str, object]:
    if skipped:
        return {"name": name, "skip_reason": f"Dependency not found on PyPI: {name}"}
    found = [{"id": v, "fix_versions": ["9.9"], "description": ""} for v in vulns]
    return {"name": name, "version": "1.0", "vulns": found}


def test_a_known_vulnerability_fails_the_audit_and_is_named() -> None:
    report = {"dependencies": [_dep("aiohttp", "GHSA-xxxx"), _dep("yarl")]}
    code, message = audit_verdict(report, require_data=False)
    assert code == 1 and "aiohttp 1.0: GHSA-xxxx (fixed in 9.9)" in message


def test_no_vulnerability_data_is_not_reported_as_clean() -> None:
    report = {"dependencies": [_dep("aiohttp", skipped=True), _dep("yarl", skipped=True)]}
    code, message = audit_verdict(report, require_data=False)
    assert code == 0 and message.startswith("audit NOT done") and "2 packages" in message
    assert audit_verdict(report, require_data=True)[0] == 1


def test_a_clean_audit_counts_what_it_looked_up() -> None:
    report = {"dependencies": [_dep("aiohttp"), _dep("faker", skipped=True)]}
    code, message = audit_verdict(report, require_data=False)
    assert code == 0 and message == (
        "no known vulnerabilities in 1 packages (1 could not be looked up: faker)"
    )
    assert audit_verdict(report, require_data=True)[0] == 1
