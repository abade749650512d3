"""The platform packages deploy the service without importing it, and the shared package
imports neither side.

`stacks/`, `infra/` and `policies/` run where the service's dependencies and settings are not
(the deploy machine, the policy pack's Pulumi plugin); what both sides need lives in
`ops_common/`. Every import counts, wherever it is written, as in test_import_cycles.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.service.test_import_cycles import ROOT, imports

PLATFORM = ("stacks", "infra", "policies", "ops_common")


def modules_of(package: str, root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of_service(packages: tuple[str, ...], root: Path = ROOT) -> dict[str, set[str]]:
    """Each module of `packages` that imports `service` (or a part of it), with what it imports."""
    service = modules_of("service", root)
    found: dict[str, set[str]] = {}
    for package in packages:
        for name, path in modules_of(package, root).items():
            targets = imports(name, path, service)
            if targets:
                found[name] = targets
    return found


def test_stacks_infra_and_policies_do_not_import_the_service() -> None:
    assert len(modules_of("stacks")) > 10 and len(modules_of("infra")) > 10
    found = imports_of_service(PLATFORM)
    assert not found, "modules importing service/:\n" + "\n".join(
        f"    {name} -> {', '.join(sorted(targets))}" for name, targets in sorted(found.items())
    )


def roots_imported(path: Path) -> set[str]:
    """The top-level packages a module imports absolutely, anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_shared_package_imports_neither_side() -> None:
    sides = {"service", "stacks", "infra", "policies"}
    found = {name: roots_imported(path) & sides for name, path in modules_of("ops_common").items()}
    assert "ops_common.healthcheck" in found
    assert not any(found.values()), found


def test_an_import_of_the_service_anywhere_in_a_module_is_found(tmp_path: Path) -> None:
    """A top-level import, one under `TYPE_CHECKING` and one inside a function all count;
    `infra.service` (the service's Pulumi component) is not the service."""
    (tmp_path / "service" / "ops").mkdir(parents=True)
    for module in ("service/__init__.py", "service/ops/__init__.py", "service/ops/check.py"):
        (tmp_path / module).write_text("")
    (tmp_path / "service" / "settings.py").write_text("")
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "__init__.py").write_text("")
    (tmp_path / "stacks" / "top.py").write_text("from service.ops.check import run\n")
    (tmp_path / "stacks" / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import service.settings\n"
    )
    (tmp_path / "stacks" / "late.py").write_text("def f():\n    from service import settings\n")
    (tmp_path / "stacks" / "fine.py").write_text("from infra.service import TranslatorService\n")
    assert imports_of_service(("stacks",), tmp_path) == {
        "stacks.top": {"service.ops.check"},
        "stacks.typed": {"service.settings"},
        "stacks.late": {"service.settings"},
    }
