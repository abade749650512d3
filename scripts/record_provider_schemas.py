"""Record the input schemas of the Pulumi resources the program uses, for `utp-infra verify`.

Usage: python scripts/record_provider_schemas.py   (writes infra/data/schemas/<package>-<v>.json)

The providers' published schema.json files could not be obtained: pulumi-aws's repository is too
large to fetch (730 MB) and its schema.json is not in any index we can read; the snapshot of
pulumi-kubernetes lacks its schema.json content; pulumi-random's is published only up to 4.21.1
while 4.21.4 is pinned. So the schema is derived from the installed provider SDK packages
instead: pulumigen / tfgen generate their `*Args` input types from exactly that schema, and they
carry each property's wire name, whether it is required, its type and its enum values at the
pinned version. The record keeps only the resource types both stacks register and the input
types reachable from them, in the shape of a Pulumi package schema (`properties`, `required`,
`type`, `items`, `additionalProperties`, `$ref`, `enum`, `oneOf`).
"""

from __future__ import annotations

import collections.abc
import enum
import importlib
import inspect
import json
import sys
import typing
from importlib import metadata
from pathlib import Path
from typing import Any

import pulumi
from pulumi import _types

WHY_DERIVED = (
    "the published schema.json could not be obtained at the pinned versions: pulumi-aws's"
    " repository is too large to fetch (730 MB) and its schema.json is in no readable index;"
    " the pulumi-kubernetes repository snapshot lacks the file's content; pulumi-random's is"
    " published only up to 4.21.1. The SDK's *Args types are generated from that schema."
)
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "infra" / "data" / "schemas"
# Type-token prefix -> (PyPI distribution, Python module).
PACKAGES = {
    "aws": ("pulumi-aws", "pulumi_aws"),
    "kubernetes": ("pulumi-kubernetes", "pulumi_kubernetes"),
    "random": ("pulumi-random", "pulumi_random"),
}
_SEQUENCES = {list, collections.abc.Sequence}
_MAPPINGS = {dict, collections.abc.Mapping}
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _resource_classes(module: str) -> dict[str, type]:
    """Type token -> resource class, from the registration table every generated SDK keeps."""
    source = inspect.getsource(importlib.import_module(module))
    start = source.index('resource_modules="""') + len('resource_modules="""')
    table = json.loads(source[start : source.index('"""', start)])
    out = {}
    for entry in table:
        mod = importlib.import_module(entry["fqn"])
        for token, name in entry["classes"].items():
            out[token] = getattr(mod, name)
    return out


def _args_class(resource: type) -> type:
    module = sys.modules[resource.__module__]
    for name in (f"{resource.__name__}InitArgs", f"{resource.__name__}Args"):
        cls = getattr(module, name, None)
        if cls is not None and _types.is_input_type(cls):
            return cls
    raise LookupError(f"no input type for {resource.__module__}.{resource.__name__}")


def _type_key(cls: type) -> str:
    module = cls.__module__.removesuffix("._inputs")
    return f"{module}:{cls.__name__.removesuffix('Args')}"


class Recorder:
    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] = {}
        self._pending: list[type] = []

    def describe(self, tp: Any) -> dict[str, Any]:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if tp is Any:
            return {}
        if origin is typing.Union:
            alternatives = [a for a in args if not self._is_wrapper(a)]
            described: list[dict[str, Any]] = []
            for a in alternatives:
                d = self.describe(a)
                if d not in described:
                    described.append(d)
            enums = [d for d in described if "enum" in d]
            if enums and all(d == {"type": "string"} or "enum" in d for d in described):
                # `Union[str, SomeEnum]`: the string is a way out for values newer than the
                # SDK; the enum lists those the provider knows (see the module docstring).
                return {"type": "string", "enum": sorted({v for d in enums for v in d["enum"]})}
            return described[0] if len(described) == 1 else {"oneOf": described}
        if origin is typing.Literal:
            return {"type": "string", "enum": list(args)}
        if origin in _SEQUENCES:
            return {"type": "array", "items": self.describe(args[0])}
        if origin in _MAPPINGS:
            return {"type": "object", "additionalProperties": self.describe(args[1])}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"type": "string", "enum": [str(m.value) for m in tp]}
        if isinstance(tp, type) and _types.is_input_type(tp):
            key = _type_key(tp)
            if key not in self.types:
                self.types[key] = {}
                self._pending.append(tp)
            return {"$ref": key}
        if isinstance(tp, type) and issubclass(tp, (pulumi.Asset, pulumi.Archive)):
            return {
                "$ref": "pulumi.json#/Asset"
                if issubclass(tp, pulumi.Asset)
                else "pulumi.json#/Archive"
            }
        if tp in _SCALARS:
            return {"type": _SCALARS[tp]}
        raise TypeError(f"cannot describe {tp!r}")

    @staticmethod
    def _is_wrapper(a: Any) -> bool:
        """The parts of `pulumi.Input[T]` and `Optional[T]` that are not T itself."""
        origin = typing.get_origin(a)
        return (
            a is type(None)
            or origin in (collections.abc.Awaitable, typing.Awaitable)
            or origin is pulumi.Output
            or typing.is_typeddict(a)
            or (isinstance(a, type) and _types.is_output_type(a))
        )

    def object_type(self, cls: type) -> dict[str, Any]:
        names = _types.input_type_py_to_pulumi_names(cls)
        params = inspect.signature(cls.__init__).parameters
        required = sorted(
            names[p]
            for p, v in params.items()
            if p in names and v.default is inspect.Parameter.empty
        )
        properties = {n: self.describe(t) for n, t in _types.input_type_types(cls).items()}
        return {"properties": dict(sorted(properties.items())), "required": required}

    def drain(self) -> None:
        while self._pending:
            cls = self._pending.pop()
            self.types[_type_key(cls)] = self.object_type(cls)


def used_types() -> set[str]:
    sys.path.insert(0, str(ROOT))
    from stacks.config import STACKS
    from stacks.offline import build_graph

    return {r.type for stack in STACKS for r in build_graph(stack) if r.custom}


def record(prefix: str, tokens: set[str]) -> dict[str, Any]:
    dist, module = PACKAGES[prefix]
    classes = _resource_classes(module)
    recorder = Recorder()
    resources = {}
    for token in sorted(tokens):
        if token in classes:
            resources[token] = {"inputs": recorder.object_type(_args_class(classes[token]))}
    recorder.drain()
    version = metadata.version(dist)
    return {
        "package": dist,
        "version": version,
        "source": (
            f"derived from the installed Python SDK {dist}=={version} (its generated *Args"
            " input types) by scripts/record_provider_schemas.py"
        ),
        "why": WHY_DERIVED,
        "resources": resources,
        "types": dict(sorted(recorder.types.items())),
    }


def main() -> None:
    tokens = used_types()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for prefix in PACKAGES:
        doc = record(prefix, {t for t in tokens if t.startswith(f"{prefix}:")})
        path = OUT / f"{doc['package']}-{doc['version']}.json"
        path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        counts = f"{len(doc['resources'])} resources, {len(doc['types'])} types"
        print(f"{path.relative_to(ROOT)}: {counts}")


if __name__ == "__main__":
    main()
