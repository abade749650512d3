"""Handlers get the app's services by dependency injection (service/container.py), never from
`app.state`; the injected parameter stays out of the OpenAPI document."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from .conftest import Api

SERVICE = Path(__file__).resolve().parents[2] / "service"
HANDLER_MODULES = sorted([*SERVICE.glob("api/*.py"), *SERVICE.glob("console/*.py")])
ROUTE_DECORATORS = frozenset({"get", "post", "put", "patch", "delete", "route"})


def _ends_in_app(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "app") or (
        isinstance(node, ast.Attribute) and node.attr == "app"
    )


def _decorator_name(node: ast.expr) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    return target.id if isinstance(target, ast.Name) else None


def _reads_state(node: ast.AST) -> bool:
    """`….app.state` or `getattr(…, "state")`."""
    if isinstance(node, ast.Attribute):
        return node.attr == "state" and _ends_in_app(node.value)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value == "state"
    )


def state_reads(source: str) -> list[str]:
    """Where `source` reads the app's state (`….app.state`, `getattr(app, "state")`), or a route
    handler asks `services_of` instead of declaring its `services` parameter."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if _reads_state(node):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and any(
            _decorator_name(d) in ROUTE_DECORATORS for d in node.decorator_list
        ):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id == "services_of"
                ):
                    found.append(f"line {inner.lineno}: services_of in route {node.name}")
    return found


def test_no_handler_module_reads_the_app_state() -> None:
    assert len(HANDLER_MODULES) > 20  # the glob found the modules
    offenders = {
        str(path.relative_to(SERVICE.parent)): reads
        for path in HANDLER_MODULES
        if (reads := state_reads(path.read_text()))
    }
    assert offenders == {}, "use the injected `services: Services` parameter (service/container.py)"


def test_the_check_finds_each_way_of_reading_the_state() -> None:
    source = """
@get("/a")
async def a(request):
    return request.app.state.sessions

async def b(connection):
    return getattr(connection.app, "state")

def c(app):
    return app.state

@post("/d")
async def d(request):
    return services_of(request.app).engine

def middleware(connection):
    return services_of(connection.app)  # allowed: no dependency injection here
"""
    assert sorted(r.split(":")[0] for r in state_reads(source)) == [
        "line 10",
        "line 14",
        "line 4",
        "line 7",
    ]


async def test_the_injected_services_are_not_in_the_openapi_document(api: Api) -> None:
    document: dict[str, Any] = (await api.client.get("/schema/openapi.json")).json()
    names = {
        parameter["name"]
        for operations in document["paths"].values()
        for operation in operations.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
    }
    assert "channel_id" in names  # the document was read: a real parameter is there
    assert "services" not in names
    assert "ServiceContainer" not in document.get("components", {}).get("schemas", {})
