"""Every resource's inputs against its provider's schema at the pinned version.

Plain dicts passed as `spec`, `metadata` or an AWS block reach the engine untouched: the SDK
translates only the keys it knows, so a misspelt key, a string where a number belongs or a
forgotten required field shows up first at `pulumi up` (or never: the API server drops unknown
fields). The schemas live in infra/data/schemas/ (scripts/record_provider_schemas.py, one file per
provider package and version, only the types the program uses); nothing is fetched here.
Custom resources of CRDs (ServiceMonitor, ExternalSecret, ...) are in no provider schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from pulumi.runtime.rpc import UNKNOWN

from stacks.config import REPO_ROOT
from stacks.graph import RecordedResource
from stacks.mocks import SECRET_MASK
from stacks.verify.crds import api_group, is_builtin_group

DATA_DIR = REPO_ROOT / "infra" / "data" / "schemas"
# Type-token prefix -> the provider SDK distribution whose schema applies.
PACKAGES = {"aws": "pulumi-aws", "kubernetes": "pulumi-kubernetes", "random": "pulumi-random"}
RECORD_COMMAND = "python scripts/record_provider_schemas.py"
_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int, float),  # numbers cross the engine as doubles: 2 arrives as 2.0
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def record_path(package: str, version: str, data_dir: Path = DATA_DIR) -> Path:
    return data_dir / f"{package}-{version}.json"


@cache
def schema_record(package: str, version: str, data_dir: Path = DATA_DIR) -> dict[str, Any] | None:
    path = record_path(package, version, data_dir)
    if not path.is_file():
        return None
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def _type_name(key: str) -> str:
    return key.rsplit(":", 1)[-1]


class Checker:
    """Walks one value against one schema node, yielding `path: problem` strings."""

    def __init__(self, types: dict[str, dict[str, Any]]) -> None:
        self.types = types

    def object(
        self, value: dict[str, Any], spec: dict[str, Any], name: str, path: str
    ) -> Iterator[str]:
        props: dict[str, Any] = spec["properties"]
        for key in spec["required"]:
            if key not in value:
                yield f"{path}{key}: required by {name}, missing"
        for key, child in value.items():
            if key not in props:
                yield f"{path}{key}: not a property of {name}"
            else:
                yield from self.value(child, props[key], f"{path}{key}")

    def value(self, value: Any, spec: dict[str, Any], path: str) -> Iterator[str]:
        if value is None or value in (SECRET_MASK, UNKNOWN) or not spec:
            return  # unset, masked, not known before `up`, or `Any`
        if "oneOf" in spec:
            if not any(not list(self.value(value, alt, path)) for alt in spec["oneOf"]):
                kinds = " or ".join(alt.get("type", "object") for alt in spec["oneOf"])
                yield f"{path}: expected {kinds}, got {_show(value)}"
            return
        ref = spec.get("$ref")
        if ref is not None:
            if ref.startswith("pulumi.json#"):
                return  # an asset or archive: the SDK serialises those itself
            if not isinstance(value, dict):
                yield f"{path}: expected an object ({_type_name(ref)}), got {_show(value)}"
                return
            yield from self.object(value, self.types[ref], _type_name(ref), f"{path}.")
            return
        kind = spec["type"]
        ok = isinstance(value, _SCALARS[kind]) and not (
            kind in ("integer", "number") and isinstance(value, bool)
        )
        if kind == "integer" and isinstance(value, float) and not value.is_integer():
            ok = False
        if not ok:
            yield f"{path}: expected {kind}, got {_show(value)}"
            return
        if "enum" in spec and value not in spec["enum"]:
            yield f"{path}: {value!r} is not one of {', '.join(map(str, spec['enum']))}"
        elif kind == "array":
            for i, item in enumerate(value):
                yield from self.value(item, spec["items"], f"{path}[{i}]")
        elif kind == "object":
            for key, item in value.items():
                yield from self.value(item, spec["additionalProperties"], f"{path}.{key}")


def _show(value: Any) -> str:
    kind = {str: "string", bool: "boolean", list: "array", dict: "object"}.get(
        type(value), "number"
    )
    text = json.dumps(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def schema_problems(graph: Sequence[RecordedResource], data_dir: Path = DATA_DIR) -> list[str]:
    problems: list[str] = []
    missing: set[str] = set()
    for r in graph:
        prefix = r.type.split(":", 1)[0]
        if not r.custom or prefix not in PACKAGES or r.type.startswith("pulumi:providers:"):
            continue
        package = PACKAGES[prefix]
        version = _installed(package)
        record = schema_record(package, version or "?", data_dir)
        if record is None:
            if package not in missing:
                missing.add(package)
                problems.append(
                    f"schema: no record of {package} {version}'s schema in {_shown(data_dir)}"
                    f" (the installed version differs from the recorded one: {RECORD_COMMAND})"
                )
            continue
        resource = record["resources"].get(r.type)
        if resource is None:
            group = api_group(r.type)
            if group is not None and not is_builtin_group(group):
                continue  # a custom resource: its schema is its CRD's, not the provider's
            problems.append(
                f"schema: {r.name} ({r.type}): not in the recorded {package} {version} schema"
                f" ({RECORD_COMMAND})"
            )
            continue
        checker = Checker(record["types"])
        for line in checker.object(r.inputs, resource["inputs"], _type_name(r.type), ""):
            problems.append(f"schema: {r.name} ({r.type}): {line}")
    return problems
