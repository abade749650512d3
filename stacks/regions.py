"""Questions about a recorded graph: which region each resource really lands in, its ancestry."""

from __future__ import annotations

from collections.abc import Sequence

from stacks.graph import RecordedResource


class GraphIndex:
    """Lookups over a recorded graph by URN."""

    def __init__(self, graph: Sequence[RecordedResource]) -> None:
        self.graph = list(graph)
        self.by_urn = {r.urn: r for r in self.graph}

    def parent(self, r: RecordedResource) -> RecordedResource | None:
        return self.by_urn.get(r.parent_urn) if r.parent_urn else None

    def ancestors(self, r: RecordedResource) -> list[RecordedResource]:
        chain = []
        node = self.parent(r)
        while node is not None:
            chain.append(node)
            node = self.parent(node)
        return chain

    def declared_region(self, r: RecordedResource) -> str | None:
        """The region of the nearest `Region` grouping component (what the program intended)."""
        for node in [r, *self.ancestors(r)]:
            if node.type.endswith(":stacks:Region"):
                return str(node.inputs["region"])
        return None

    def effective_region(self, r: RecordedResource) -> str | None:
        """Where the resource really goes: its AWS provider's region, or (Kubernetes) the region
        of the cluster its provider talks to; components take their declared region."""
        if r.type == "pulumi:providers:aws":
            return str(r.inputs.get("region")) if r.inputs.get("region") else None
        if r.provider_urn and r.provider_urn in self.by_urn:
            return self.effective_region(self.by_urn[r.provider_urn])
        if r.type.startswith("pulumi:providers:"):
            # Kubernetes: the cluster's region; random and friends: where they are declared.
            return self.declared_region(r)
        if not r.custom:
            return self.declared_region(r)
        return None

    def of_type(self, typ: str) -> list[RecordedResource]:
        return [r for r in self.graph if r.type == typ]

    def children(self, r: RecordedResource) -> list[RecordedResource]:
        return [c for c in self.graph if c.parent_urn == r.urn]
