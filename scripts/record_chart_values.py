"""Record what a pinned Helm chart accepts, for `utp-infra verify` (infra/data/helm-values/).

Usage: python scripts/record_chart_values.py CHART_DIR SOURCE TOP_LEVEL_KEY...
CHART_DIR is the chart as `helm pull <chart> --repo <repo> --version <v> --untar` unpacks it
(Chart.yaml, values.yaml, templates/, charts/<subchart>/...). SOURCE says where it came from
(repository and tag). The record keeps every top-level key, the values tree below the given
top-level keys (leaves reduced to their type), and every `.Values.a.b` path the templates and
tpl-rendered strings in values.yaml refer to (a subchart's under its name).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

_REF = re.compile(r"\.Values((?:\.[A-Za-z0-9_]+)+)")


def _skeleton(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _skeleton(v) for k, v in value.items()}
    return type(value).__name__


def _refs(chart: Path) -> set[str]:
    texts = [p.read_text(errors="replace") for p in (chart / "templates").rglob("*") if p.is_file()]
    texts.append((chart / "values.yaml").read_text())
    return {m.group(1)[1:] for text in texts for m in _REF.finditer(text)}


def record(chart: Path, source: str, keys: list[str]) -> dict[str, Any]:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    values = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    refs = _refs(chart)
    for sub in sorted((chart / "charts").glob("*/")) if (chart / "charts").is_dir() else []:
        sub_values = yaml.safe_load((sub / "values.yaml").read_text()) or {}
        name = sub.name
        values[name] = {**sub_values, **(values.get(name) or {})}
        refs |= {f"{name}.{r}" for r in _refs(sub)}
    used = set(keys)
    return {
        "chart": meta["name"],
        "version": str(meta["version"]),
        "source": source,
        "topLevelKeys": sorted(str(k) for k in values),
        "values": {k: _skeleton(v) for k, v in values.items() if k in used},
        "references": sorted(r for r in refs if r.split(".", 1)[0] in used),
    }


def main() -> None:
    chart, source, *keys = sys.argv[1:]
    doc = record(Path(chart), source, keys)
    out = Path(__file__).resolve().parent.parent / "infra" / "data" / "helm-values"
    path = out / f"{doc['chart']}-{doc['version']}.json"
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(path)


if __name__ == "__main__":
    main()
