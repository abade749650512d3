"""Helm values the program sets must exist in the pinned chart version.

Helm ignores a misspelt or moved key silently: the release installs with the chart's default.
Each pinned chart's record in infra/data/helm-values/ (scripts/record_chart_values.py, from the
chart's source at its release tag) holds its values tree and the `.Values` paths its templates
read. A key we set is known when the chart's values.yaml has it, or when a template reads it
or an enclosing object (objects such as `securityContext` are passed through whole); below a
list, a scalar or an empty map the chart takes anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from stacks.config import REPO_ROOT
from stacks.graph import RecordedResource

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
DATA_DIR = REPO_ROOT / "infra" / "data" / "helm-values"


@cache
def chart_record(chart: str, version: str, data_dir: Path = DATA_DIR) -> dict[str, Any] | None:
    path = data_dir / f"{chart}-{version}.json"
    if not path.is_file():
        return None
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*path, str(key)))
    else:
        yield path


def unknown_paths(values: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """The value paths in `values` the chart neither declares nor reads. A top-level key the
    record holds no detail for (it keeps only the sections the program set when it was
    recorded) is reported with a hint to record the chart again."""
    references = set(record["references"])
    top = set(record["topLevelKeys"])
    unknown = []
    for path in _leaves(values):
        if not path:
            continue
        if path[0] not in top:
            unknown.append(".".join(path))
            continue
        if path[0] not in record["values"]:
            unknown.append(f"{'.'.join(path)} (section not recorded: record the chart again)")
            continue
        node: Any = record["values"]
        for i, key in enumerate(path):
            if ".".join(path[: i + 1]) in references:
                break  # a template reads this key, or the whole object around it
            if not isinstance(node, dict) or not node:
                break  # a list, a scalar or a free-form map: anything goes below
            if key not in node:
                unknown.append(".".join(path))
                break
            node = node[key]
    return unknown


def helm_value_problems(graph: Sequence[RecordedResource]) -> list[str]:
    problems: list[str] = []
    for r in graph:
        if r.type != HELM_RELEASE:
            continue
        chart, version = str(r.inputs.get("chart")), str(r.inputs.get("version"))
        values = r.inputs.get("values")
        if not isinstance(values, dict):
            continue  # a secret (masked) or nothing set: nothing to compare offline
        if not values:
            continue
        record = chart_record(chart, version)
        if record is None:
            problems.append(
                f"helm: {r.name}: no record of chart {chart} {version}'s values in"
                f" {DATA_DIR.relative_to(REPO_ROOT)} (scripts/record_chart_values.py)"
            )
            continue
        for path in unknown_paths(values, record):
            problems.append(
                f"helm: {r.name}: {path} is not a value of chart {chart} {version}"
                " (Helm would ignore it)"
            )
    return problems
