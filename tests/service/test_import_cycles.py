"""No import cycles in service/: neither between its packages nor between its modules.

Every import counts, wherever it is written (top of the module, under `TYPE_CHECKING`, or
inside a function): a cycle hidden in a function body is still a cycle in the design. A shared
piece moves down into a module both sides may import (service/events.py, service/rocketchat.py,
service/chat/hook.py are such pieces).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "service"


def modules(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _owner(name: str, known: Mapping[str, Path]) -> str | None:
    """The module `name` lives in (`a.b.C` -> `a.b`)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The modules of service/ that the module `name` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(_owner(a.name, known) for a in node.names if a.name.startswith(PACKAGE))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else _owner(base, known))
    return {m for m in found if m is not None and m != name}


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports(name, path, known) for name, path in known.items()}


def package_of(module: str, root: Path = ROOT) -> str:
    """`service.usage.budgets` -> `service.usage`; a top-level module is its own node."""
    parts = module.split(".")
    if len(parts) >= 2 and (root / PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def package_graph(
    modules_graph: Mapping[str, Iterable[str]], root: Path = ROOT
) -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for source, targets in modules_graph.items():
        home = package_of(source, root)
        edges = packages.setdefault(home, set())
        edges.update(package_of(t, root) for t in targets if package_of(t, root) != home)
    return packages


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _explain(found: list[list[str]], edges: Mapping[str, Iterable[str]]) -> str:
    lines = []
    for component in found:
        lines.append(" <-> ".join(component))
        lines.extend(
            f"    {a} -> {b}" for a in component for b in sorted(edges.get(a, ())) if b in component
        )
    return "\n".join(lines)


def test_the_packages_of_service_import_each_other_without_a_cycle() -> None:
    packages = package_graph(graph())
    assert {"service.translation", "service.usage", "service.accounts", "service.chat"} <= set(
        packages
    )
    found = cycles(packages)
    assert not found, "import cycles between packages:\n" + _explain(found, packages)


def test_the_modules_of_service_import_each_other_without_a_cycle() -> None:
    modules_graph = graph()
    found = cycles(modules_graph)
    assert not found, "import cycles between modules:\n" + _explain(found, modules_graph)


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """A cycle through a relative import, a `TYPE_CHECKING` import or a function-level import
    is found, and so is one between packages that no two modules close on their own."""
    pkg = tmp_path / PACKAGE
    for folder in ("a", "b"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "one.py").write_text("from service.b.two import thing\n")
    (pkg / "a" / "three.py").write_text("")
    (pkg / "b" / "two.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from service.a import three\n"
    )
    (pkg / "b" / "five.py").write_text("def f():\n    from .four import x\n")
    (pkg / "b" / "four.py").write_text("from . import two\nfrom .five import y\n")
    modules_graph = graph(tmp_path)
    assert modules_graph["service.b.two"] == {"service.a.three"}
    assert modules_graph["service.b.four"] == {"service.b.two", "service.b.five"}
    assert cycles(modules_graph) == [["service.b.five", "service.b.four"]]
    assert cycles(package_graph(modules_graph, tmp_path)) == [["service.a", "service.b"]]
