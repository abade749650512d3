"""A CycloneDX SBOM of the built image: its Debian packages and its Python packages.

    python scripts/image_sbom.py IMAGE OUT.cdx.json [REQUIREMENTS.txt]
    python scripts/image_sbom.py --audit-report PIP_AUDIT.json [--require-data]

Both lists are read from the image itself (`dpkg-query` and `importlib.metadata` in a throwaway
container), so the SBOM is what ships, not what the project asks for. The optional requirements
file pins the Python packages for `pip-audit -r` (`make sbom` writes both).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

# Run inside the image: one JSON document with both package lists.
LIST_PACKAGES = """
import importlib.metadata as m, json, subprocess
deb = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\\t${Version}\\t${Architecture}\\n"],
                     capture_output=True, text=True, check=True).stdout
print(json.dumps({
    "deb": [line.split("\\t") for line in deb.splitlines() if line],
    "python": sorted({(d.metadata["Name"], d.version) for d in m.distributions()}),
}))
"""


@dataclass(frozen=True)
class Packages:
    deb: list[tuple[str, str, str]]
    python: list[tuple[str, str]]


def read_packages(image: str) -> Packages:
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "/opt/utp/bin/python",
         image, "-c", LIST_PACKAGES],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    doc = json.loads(result.stdout)
    return Packages(
        deb=[(name, version, arch) for name, version, arch in doc["deb"]],
        python=[(name, version) for name, version in doc["python"]],
    )


def sbom(image: str, packages: Packages) -> str:
    """The CycloneDX 1.6 JSON document, checked against the specification's schema."""
    bom = Bom()
    root = Component(name=image, type=ComponentType.CONTAINER, bom_ref=image)
    bom.metadata.component = root
    for name, version, arch in packages.deb:
        purl = PackageURL("deb", "debian", name, version, {"arch": arch})
        bom.components.add(Component(name=name, version=version, purl=purl, bom_ref=str(purl)))
    for name, version in packages.python:
        purl = PackageURL("pypi", None, name.lower().replace("_", "-"), version)
        bom.components.add(Component(name=name, version=version, purl=purl, bom_ref=str(purl)))
    # Flat: the image contains every package; their own dependency graphs are not recorded.
    bom.register_dependency(root, list(bom.components))
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise ValueError(f"the SBOM does not validate: {error}")
    return text


def requirements(packages: Packages, skip: str = "universal-translator-pro") -> str:
    """Pinned requirements of the image's Python packages (the service itself left out)."""
    pins = [f"{name}=={version}" for name, version in packages.python if name.lower() != skip]
    return "\n".join(pins) + "\n"


def audit_verdict(report: dict[str, Any], *, require_data: bool) -> tuple[int, str]:
    """Exit code and summary of a `pip-audit --format json` report.

    A package pip-audit could not look up is not a clean one: when none could be looked up
    (no vulnerability data reachable) the audit says it did not happen, and fails only when
    `require_data` is set (`make sbom`).
    """
    deps = report["dependencies"]
    skipped = [d["name"] for d in deps if d.get("skip_reason")]
    found = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions']) or '-'})"
        for d in deps
        for v in d.get("vulns", [])
    ]
    audited = len(deps) - len(skipped)
    if found:
        return 1, "known vulnerabilities:\n  " + "\n  ".join(found)
    if audited == 0:
        return (1 if require_data else 0), (
            f"audit NOT done: no vulnerability data could be fetched for any of {len(deps)} "
            "packages (PyPI's JSON API unreachable from here); the SBOM stands"
        )
    note = f" ({len(skipped)} could not be looked up: {', '.join(skipped)})" if skipped else ""
    return (1 if skipped and require_data else 0), (
        f"no known vulnerabilities in {audited} packages{note}"
    )


if __name__ == "__main__" and sys.argv[1] == "--audit-report":
    code, message = audit_verdict(
        json.loads(Path(sys.argv[2]).read_text()), require_data="--require-data" in sys.argv
    )
    print(f"pip-audit: {message}")
    sys.exit(code)
elif __name__ == "__main__":
    image, out = sys.argv[1], Path(sys.argv[2])
    found = read_packages(image)
    out.write_text(sbom(image, found))
    if len(sys.argv) > 3:
        Path(sys.argv[3]).write_text(requirements(found))
    print(f"{out}: {len(found.deb)} Debian and {len(found.python)} Python packages")
