"""The per-component cost allocation tag: every AWS resource that takes a `tags` map carries
`utp:component`, so Cost Explorer splits the bill by component (database, eks, audit, ...),
not only by Project and Environment (the provider's default tags).

Applied as a resource transformation on each top-level component; Pulumi hands a parent's
transformations to all of its children, so no component has to thread the tag through by hand.
The `aws-cost-allocation-component-tag` policy fails a resource that arrives without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

COMPONENT_TAG = "utp:component"


def _takes_tag_map(resource: Any) -> bool:
    """Whether the resource (its generated class) has a `tags` map of strings (an Auto Scaling
    group's `tags` is a list of objects, Kubernetes objects and components have none)."""
    getter = getattr(type(resource), "tags", None)
    fget = getattr(getter, "fget", None)
    if fget is None:
        return False
    returns = str(getattr(fget, "__annotations__", {}).get("return", ""))
    return "Mapping[str" in returns


def _with_component(tags: Mapping[str, str] | None, component: str) -> dict[str, str]:
    # A nested component's tag wins: its transformation runs before its parent's.
    return {COMPONENT_TAG: component, **(tags or {})}


def component_tag(component: str) -> pulumi.ResourceTransformation:
    """A transformation adding `utp:component: <component>` to every taggable AWS resource."""

    def add(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not isinstance(args.resource, pulumi.CustomResource) or not _takes_tag_map(
            args.resource
        ):
            return None
        tags: Any = args.props.get("tags")
        merged: Any = (
            tags.apply(lambda t: _with_component(t, component))
            if isinstance(tags, pulumi.Output)
            else _with_component(tags, component)
        )
        return pulumi.ResourceTransformationResult(
            props={**args.props, "tags": merged}, opts=args.opts
        )

    return add
