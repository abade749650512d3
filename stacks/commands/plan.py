"""`utp-infra plan`: build a stack's resource graph offline and print it like a preview."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import click

from stacks.config import STACKS, ConfigError
from stacks.graph import RecordedResource
from stacks.regions import GraphIndex


def render_text(stack: str, graph: list[RecordedResource]) -> str:
    index = GraphIndex(graph)
    lines = [f"Offline plan for stack {stack!r} (Pulumi mocks; no cloud calls):", ""]
    lines.append(f"     {'TYPE':<58} {'NAME':<44} {'REGION':<10} FLAGS")
    roots = [r for r in graph if r.parent_urn is None or r.parent_urn not in index.by_urn]

    def walk(r: RecordedResource, depth: int) -> None:
        region = index.effective_region(r) or "-"
        flags = ",".join(f for f, on in (("protect", r.protect), ("component", not r.custom)) if on)
        typ = "  " * depth + r.type
        lines.append(f"  +  {typ:<58} {r.name:<44} {region:<10} {flags}")
        for child in sorted(index.children(r), key=lambda c: (c.custom, c.type, c.name)):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    custom = [r for r in graph if r.custom]
    regions = Counter(index.effective_region(r) or "-" for r in custom)
    summary = ", ".join(f"{n} in {region}" for region, n in sorted(regions.items()))
    lines += [
        "",
        f"Resources: {len(graph)} to create ({summary}; {len(graph) - len(custom)} components)",
    ]
    return "\n".join(lines)


def render_json(stack: str, graph: list[RecordedResource]) -> str:
    index = GraphIndex(graph)
    parents = {r.urn: r for r in graph}

    def entry(r: RecordedResource) -> dict[str, Any]:
        parent = parents.get(r.parent_urn) if r.parent_urn else None
        return {
            "type": r.type,
            "name": r.name,
            "urn": r.urn,
            "region": index.effective_region(r),
            "parent": parent.urn if parent else None,
            "provider": r.provider_urn,
            "custom": r.custom,
            "protect": r.protect,
            "dependsOn": list(r.depends_on),
            "inputs": r.inputs,
        }

    doc = {"stack": stack, "count": len(graph), "resources": [entry(r) for r in graph]}
    return json.dumps(doc, indent=2, sort_keys=False, default=str)


@click.command("plan")
@click.option("--stack", "stack", required=True, type=click.Choice(STACKS), help="Stack to plan.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def command(stack: str, fmt: str) -> None:
    """Run the Pulumi program under mocks and print the resources it would create."""
    from stacks.offline import build_graph

    try:
        graph = build_graph(stack)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None
    click.echo(render_json(stack, graph) if fmt == "json" else render_text(stack, graph))
