"""`utp-infra verify`: what the real engine and APIs would refuse, checked offline.

Mocks accept anything. This builds the stack from the config exactly as `pulumi up` passes
it, then checks the recorded graph against what the engine, AWS and the Kubernetes API server
enforce: cluster access before Kubernetes resources, CRDs before their custom resources,
physical-name limits, region-valid values, Helm values the pinned charts know, and every
resource's inputs against its provider's schema at the pinned version.
Each problem is one line.
"""

from __future__ import annotations

from pathlib import Path

from stacks import config
from stacks.config import ConfigError
from stacks.verify.access import access_problems
from stacks.verify.crds import crd_order_problems
from stacks.verify.helm_values import helm_value_problems
from stacks.verify.names import name_problems
from stacks.verify.regional import regional_problems
from stacks.verify.schema import schema_problems


def verify(stack: str, root: Path | None = None) -> list[str]:
    """Every problem found in `stack`, one line each (empty: a real preview would get going)."""
    from stacks.engine_config import load_as_engine
    from stacks.offline import build_graph

    try:
        cfg = load_as_engine(stack, root or config.REPO_ROOT)
    except ConfigError as exc:
        return [f"config: {exc}"]
    graph = build_graph(stack, cfg)
    return [
        *access_problems(graph),
        *crd_order_problems(graph),
        *name_problems(graph),
        *regional_problems(graph),
        *helm_value_problems(graph),
        *schema_problems(graph),
    ]
