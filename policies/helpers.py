"""Shared helpers for rules: type tokens, robust property reads, regions, stack lookups."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PRODUCTION_ONLY = "production-only"
"""Tag of rules that are mandatory on production and advisory elsewhere (see enforcement.py)."""

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


class _Unknown:
    """A value that is not known until `pulumi up` (a preview's computed output)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        return True


UNKNOWN: Any = _Unknown()
"""Returned by `get` for values unknown during preview; counts as set and as compliant."""


# --- type tokens -------------------------------------------------------------------------------

_TOKEN = re.compile(r"^(?P<pkg>[^:]+):(?P<mod>[^/]+)/(?P<member>[^:]+):(?P<name>.+)$")


def with_v2(token: str) -> frozenset[str]:
    """`aws:s3/bucketVersioning:BucketVersioning` plus its `...V2:...V2` twin (and vice versa)."""
    m = _TOKEN.match(token)
    if m is None:
        return frozenset({token})
    pkg, mod, member, name = m.group("pkg", "mod", "member", "name")
    if member.endswith("V2") and name.endswith("V2"):
        return frozenset({token, f"{pkg}:{mod}/{member[:-2]}:{name[:-2]}"})
    return frozenset({token, f"{pkg}:{mod}/{member}V2:{name}V2"})


def types(*tokens: str, v2: bool = False) -> frozenset[str]:
    """A set of type tokens; with `v2=True` each token also matches its `*V2` variant."""
    out: set[str] = set()
    for token in tokens:
        out |= with_v2(token) if v2 else {token}
    return frozenset(out)


# --- property reads ----------------------------------------------------------------------------

_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def snake(key: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", key).lower()


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _lookup(container: Any, key: str | int) -> Any:
    try:
        if isinstance(key, int):
            if is_list(container) and -len(container) <= key < len(container):
                return container[key]
            return None
        if not isinstance(container, Mapping):
            return None
        for candidate in (key, snake(key), camel(key)):
            if candidate in container:
                return container[candidate]
    except UnknownValueError:
        return UNKNOWN
    return None


def get(props: Any, *path: str | int, default: Any = None) -> Any:
    """Read `props[a][b][0]...`, accepting camelCase or snake_case keys; None when absent."""
    value = props
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        value = _lookup(value, key)
        if value is None:
            return default
    return value


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def as_list(value: Any) -> list[Any]:
    """The items of a list-like value (a lone value becomes a one-item list; None, [])."""
    if value is None:
        return []
    if is_list(value):
        items: list[Any] = []
        for i in range(len(value)):
            items.append(_lookup(value, i))
        return items
    return [value]


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def is_true(value: Any) -> bool:
    """True for True, "true" (launch templates use strings) and unknown values."""
    if value is UNKNOWN:
        return True
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def is_false(value: Any) -> bool:
    """Explicitly false: False or "false" (None/absent is not false)."""
    if isinstance(value, str):
        return value.strip().lower() == "false"
    return value is False


def is_set(value: Any) -> bool:
    """A non-empty value (unknown counts as set)."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if is_list(value) or isinstance(value, Mapping):
        return len(value) > 0
    return True


def as_int(value: Any) -> int | None:
    if value is UNKNOWN or value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --- resources ---------------------------------------------------------------------------------


def _parent_urn(parent: Any, opts: Any) -> str | None:
    if parent is not None:
        return str(parent.urn)
    from_opts = getattr(opts, "parent", None)
    return str(from_opts) if from_opts else None


@dataclass(frozen=True)
class Res:
    """A typed view of a `ResourceValidationArgs` or a `PolicyResource`."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    provider_type: str | None = None
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    provider_urn: str | None = None
    protect: bool = False
    parent_urn: str | None = None
    property_dependencies: Mapping[str, frozenset[str]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, obj: Any, config: Mapping[str, Any] | None = None) -> Res:
        provider = getattr(obj, "provider", None)
        opts = getattr(obj, "opts", None)
        parent = getattr(obj, "parent", None)
        deps: dict[str, frozenset[str]] = {}
        for prop, resources in (getattr(obj, "property_dependencies", None) or {}).items():
            deps[str(prop)] = frozenset(str(r.urn) for r in resources)
        return cls(
            type=str(obj.resource_type),
            name=str(obj.name),
            urn=str(obj.urn),
            props=obj.props if isinstance(obj.props, Mapping) else {},
            provider_type=str(provider.resource_type) if provider is not None else None,
            provider_props=provider.props if provider is not None else {},
            provider_urn=str(provider.urn) if provider is not None else None,
            protect=bool(getattr(opts, "protect", False)),
            parent_urn=_parent_urn(parent, opts),
            property_dependencies=deps,
            config=config or {},
        )

    def get(self, *path: str | int, default: Any = None) -> Any:
        return get(self.props, *path, default=default)

    @property
    def region(self) -> str | None:
        """The resource's own `region` input (pulumi-aws 7) or else its provider's region."""
        own = self.get("region")
        if isinstance(own, str) and own:
            return own
        provider_region = get(self.provider_props, "region")
        if isinstance(provider_region, str) and provider_region:
            return provider_region
        return None

    @property
    def label(self) -> str:
        return f"{self.type.rsplit(':', 1)[-1]} '{self.name}'"

    def setting(self, key: str, default: Any) -> Any:
        """A policy config property (from `--policy-pack-config`), else the default."""
        value = self.config.get(key)
        return default if value is None else value


def identifiers(res: Res) -> set[str]:
    """The strings other resources use to point at `res` (its id, name, ARN, ...)."""
    out = {res.urn}
    for key in ("id", "arn", "name", "bucket", "identifier", "keyId", "zoneId"):
        value = res.get(key)
        if isinstance(value, str) and value:
            out.add(value)
    return out


def refers_to(child: Res, prop: str, target: Res) -> bool:
    """Whether `child.<prop>` points at `target` (by dependency, or by value when known)."""
    for key in {prop, snake(prop), camel(prop)}:
        if target.urn in child.property_dependencies.get(key, frozenset()):
            return True
    value = child.get(prop)
    if not isinstance(value, str) or not value:
        return False
    ids = identifiers(target)
    if value in ids:
        return True
    # An ARN refers to the resource whose name/id is its last path element.
    if value.startswith("arn:"):
        tail = re.split(r"[:/]", value)[-1]
        return tail in ids
    return False


# --- rule factories ----------------------------------------------------------------------------

ResourceCheck = Callable[[Res], Iterable[str]]
StackCheck = Callable[[list[Res], Mapping[str, Any]], Iterable[tuple[str, str | None]]]


def _tags(area: str, production_only: bool) -> list[str]:
    return [area, PRODUCTION_ONLY] if production_only else [area]


def _schema(config: Mapping[str, Mapping[str, Any]] | None) -> Any:
    return (
        PolicyConfigSchema(properties={k: dict(v) for k, v in config.items()}) if config else None
    )


def resource_rule(
    *,
    name: str,
    description: str,
    area: str,
    types: Iterable[str],
    check: ResourceCheck,
    fix: str,
    level: EnforcementLevel = MANDATORY,
    production_only: bool = False,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Any:
    """A ResourceValidationPolicy that runs `check` on resources of the given type tokens.

    Every message the check yields is reported with the remediation hint `fix` appended.
    """
    wanted = frozenset(types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in wanted:
            return
        res = Res.of(args, args.get_config())
        for message in check(res):
            report_violation(f"{res.label}: {message} Fix: {fix}", None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=_schema(config),
        severity=Severity.HIGH if level == MANDATORY else Severity.LOW,
        tags=_tags(area, production_only),
        remediation_steps=fix,
    )


def stack_rule(
    *,
    name: str,
    description: str,
    area: str,
    check: StackCheck,
    fix: str,
    level: EnforcementLevel = MANDATORY,
    production_only: bool = False,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Any:
    """A StackValidationPolicy; `check` yields (message, urn) for each offending resource."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        cfg = args.get_config()
        resources = [Res.of(r, cfg) for r in args.resources]
        for message, urn in check(resources, cfg):
            report_violation(f"{message} Fix: {fix}", urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=level,
        config_schema=_schema(config),
        severity=Severity.HIGH if level == MANDATORY else Severity.LOW,
        tags=_tags(area, production_only),
        remediation_steps=fix,
    )


def of_type(resources: Iterable[Res], wanted: frozenset[str]) -> list[Res]:
    return [r for r in resources if r.type in wanted]
