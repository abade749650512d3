"""Stack-aware enforcement: production-only rules are mandatory on production, advisory elsewhere.

The pack's configuration is the standard CrossGuard policy config, keyed by rule name:
`{"aws-rds-deletion-protection": {"enforcementLevel": "advisory"}, ...}`. `__main__.py` derives
its initial config from the environment (`UTP_POLICY_ENVIRONMENT`, else the stack name in
`PULUMI_STACK`, else production: the strict choice), and the files `policies/config/<stack>.json`
(generated from `pack_config`) can be passed explicitly with `--policy-pack-config`.
The offline runner applies the same config, so both paths enforce the same levels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pulumi_policy import EnforcementLevel

from policies.helpers import PRODUCTION_ONLY

Environment = Literal["staging", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("staging", "production")
ENVIRONMENT_VARIABLE = "UTP_POLICY_ENVIRONMENT"


def environment_for_stack(stack: str | None) -> Environment:
    """`staging` for a staging stack (also `org/project/staging`); anything else is production."""
    name = (stack or "").rsplit("/", 1)[-1].strip().lower()
    return "staging" if name == "staging" else "production"


def is_production_only(policy: Any) -> bool:
    return PRODUCTION_ONLY in (policy.tags or [])


def enforcement_levels(policies: Iterable[Any], environment: Environment) -> dict[str, Any]:
    """Initial config for PolicyPack: the level of every production-only rule."""
    level = EnforcementLevel.MANDATORY if environment == "production" else EnforcementLevel.ADVISORY
    return {p.name: level for p in policies if is_production_only(p)}


def pack_config(policies: Iterable[Any], environment: Environment) -> dict[str, dict[str, str]]:
    """The same, as a `--policy-pack-config` JSON document."""
    return {
        name: {"enforcementLevel": level.value}
        for name, level in enforcement_levels(policies, environment).items()
    }


def level_of(value: Any) -> Any:
    """An EnforcementLevel from a config entry (`"advisory"`, an EnforcementLevel, or a dict)."""
    if isinstance(value, Mapping):
        value = value.get("enforcementLevel")
    if value is None:
        return None
    if isinstance(value, EnforcementLevel):
        return value
    return EnforcementLevel(str(value))
