"""Run the policy pack on a recorded resource graph, without the Pulumi CLI.

The rules are the same `ResourceValidationPolicy` / `StackValidationPolicy` objects the CLI
loads from `policies/__main__.py`; this module builds the argument objects the CLI's analyzer
would build (`ResourceValidationArgs` from each resource's inputs, `StackValidationArgs` from
every resource's state) and applies the same stack-aware enforcement config.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any, Literal

from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policies.enforcement import environment_for_stack, level_of, pack_config
from policies.rules import ALL
from stacks.graph import RecordedResource

PACK_NAME = "utp-guardrails"
Level = Literal["mandatory", "advisory"]


@dataclass(frozen=True)
class Violation:
    rule: str
    level: Level
    description: str
    message: str
    urn: str | None
    kind: Literal["resource", "stack"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "level": self.level,
            "description": self.description,
            "message": self.message,
            "urn": self.urn,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class PolicyReport:
    stack: str
    environment: str
    rules_loaded: int
    resource_rules: int
    stack_rules: int
    resources_checked: int
    violations: tuple[Violation, ...]
    not_applicable: tuple[tuple[str, str], ...] = field(default=())

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory"]

    @property
    def passed(self) -> bool:
        return not self.mandatory

    @property
    def exit_code(self) -> int:
        """0 when there is no mandatory violation, 1 otherwise (advisories never fail)."""
        return 0 if self.passed else 1

    def rules_violated(self, level: Level | None = None) -> set[str]:
        return {v.rule for v in self.violations if level is None or v.level == level}

    def as_dict(self) -> dict[str, Any]:
        return {
            "policyPack": PACK_NAME,
            "stack": self.stack,
            "environment": self.environment,
            "rulesLoaded": self.rules_loaded,
            "resourceRules": self.resource_rules,
            "stackRules": self.stack_rules,
            "resourcesChecked": self.resources_checked,
            "passed": self.passed,
            "mandatoryViolations": len(self.mandatory),
            "advisoryViolations": len(self.advisory),
            "violations": [v.as_dict() for v in self.violations],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=False)

    def to_text(self) -> str:
        lines = [
            f"Policy pack {PACK_NAME}: {self.rules_loaded} rules loaded "
            f"({self.resource_rules} resource, {self.stack_rules} stack); "
            f"stack {self.stack} (environment {self.environment}), "
            f"{self.resources_checked} resources checked.",
        ]
        for level, found in (("mandatory", self.mandatory), ("advisory", self.advisory)):
            lines.append("")
            lines.append(f"{level.upper()} violations: {len(found)}")
            by_rule: dict[str, list[Violation]] = {}
            for violation in found:
                by_rule.setdefault(violation.rule, []).append(violation)
            for rule in sorted(by_rule):
                hits = by_rule[rule]
                lines.append(f"  {rule} ({len(hits)}): {hits[0].description}")
                for hit in hits:
                    lines.append(f"    - {hit.urn or '(stack)'}")
                    lines.append(f"      {hit.message}")
        lines.append("")
        if self.passed:
            lines.append(
                f"PASSED: no mandatory violations ({len(self.advisory)} advisory) on {self.stack}."
            )
        else:
            lines.append(
                f"FAILED: {len(self.mandatory)} mandatory violation(s) on {self.stack} "
                f"across {len(self.rules_violated('mandatory'))} rule(s)."
            )
        return "\n".join(lines)

    def render(self, fmt: Literal["text", "json"] = "text") -> str:
        return self.to_json() if fmt == "json" else self.to_text()


def _effective_config(
    policies: Sequence[Any], environment: Any, config: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The pack's initial config for the environment, overlaid by explicit config (as the CLI)."""
    merged: dict[str, Any] = {
        name: dict(v) for name, v in pack_config(policies, environment).items()
    }
    for name, value in (config or {}).items():
        if isinstance(value, Mapping):
            merged.setdefault(name, {}).update(value)
        else:
            merged.setdefault(name, {})["enforcementLevel"] = value
    return merged


def _policy_level(policy: Any, config: Mapping[str, Any]) -> Any:
    level = level_of(config.get(policy.name))
    if level is None:
        level = policy.enforcement_level or EnforcementLevel.MANDATORY
    return EnforcementLevel.MANDATORY if level == EnforcementLevel.REMEDIATE else level


def _policy_properties(policy: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    entry = config.get(policy.name)
    if not isinstance(entry, Mapping):
        return {}
    return {k: v for k, v in entry.items() if k != "enforcementLevel"}


def _run(result: Any) -> None:
    if isawaitable(result):

        async def wait() -> None:
            await result

        asyncio.run(wait())


def _options(rec: RecordedResource) -> Any:
    return PolicyResourceOptions(
        protect=rec.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=rec.parent_urn,
    )


def check(
    resources: Sequence[RecordedResource],
    stack: str,
    *,
    config: Mapping[str, Any] | None = None,
    policies: Sequence[Any] | None = None,
) -> PolicyReport:
    """Check a stack's recorded resources against the pack.

    `config` is a `--policy-pack-config` document (rule name -> {"enforcementLevel": ..., props});
    it overlays the stack's default enforcement (production-only rules advisory on staging).
    """
    rules = list(ALL if policies is None else policies)
    environment = environment_for_stack(stack)
    effective = _effective_config(rules, environment, config)
    by_urn = {r.urn: r for r in resources}

    providers: dict[str, Any] = {}
    for rec in resources:
        if rec.type.startswith("pulumi:providers:"):
            providers[rec.urn] = PolicyProviderResource(
                rec.type, unknown_checking_proxy({**rec.inputs, **rec.outputs}), rec.urn, rec.name
            )

    def provider_of(rec: RecordedResource) -> Any:
        return providers.get(rec.provider_urn) if rec.provider_urn else None

    violations: list[Violation] = []
    not_applicable: list[tuple[str, str]] = []

    def reporter(
        policy: Any, level: Level, kind: Literal["resource", "stack"], urn: str | None
    ) -> Any:
        def report_violation(message: str, violation_urn: str | None = None) -> None:
            violations.append(
                Violation(
                    rule=policy.name,
                    level=level,
                    description=policy.description,
                    message=message,
                    urn=violation_urn or urn,
                    kind=kind,
                )
            )

        return report_violation

    def run_guarded(policy: Any, args: Any, report: Any) -> None:
        try:
            _run(policy.validate(args, report))
        except UnknownValueError as e:
            violations.append(
                Violation(policy.name, "advisory", policy.description, e.message, None, "resource")
            )
        except _NotApplicableError as e:
            not_applicable.append((policy.name, e.reason or ""))

    custom = [r for r in resources if r.custom]
    inputs = {r.urn: unknown_checking_proxy(dict(r.inputs)) for r in custom}

    stack_resources: dict[str, Any] = {}
    for rec in resources:
        stack_resources[rec.urn] = PolicyResource(
            rec.type,
            unknown_checking_proxy({**rec.inputs, **rec.outputs}),
            rec.urn,
            rec.name,
            _options(rec),
            provider_of(rec),
            None,
            [],
            {},
        )
    for rec in resources:
        if rec.parent_urn and rec.parent_urn in by_urn:
            stack_resources[rec.urn].parent = stack_resources[rec.parent_urn]

    resource_rules = stack_rules = 0
    for policy in rules:
        raw_level = _policy_level(policy, effective)
        is_resource_rule = isinstance(policy, ResourceValidationPolicy)
        if is_resource_rule:
            resource_rules += 1
        elif isinstance(policy, StackValidationPolicy):
            stack_rules += 1
        if raw_level == EnforcementLevel.DISABLED:
            continue
        level: Level = "mandatory" if raw_level == EnforcementLevel.MANDATORY else "advisory"
        properties = _policy_properties(policy, effective)
        if is_resource_rule:
            for rec in custom:
                args = ResourceValidationArgs(
                    rec.type,
                    inputs[rec.urn],
                    rec.urn,
                    rec.name,
                    _options(rec),
                    provider_of(rec),
                    properties,
                    {},
                )
                report = reporter(policy, level, "resource", rec.urn)
                run_guarded(policy, args, report)
        elif isinstance(policy, StackValidationPolicy):
            stack_args = StackValidationArgs(list(stack_resources.values()), properties, {})
            run_guarded(policy, stack_args, reporter(policy, level, "stack", None))

    return PolicyReport(
        stack=stack,
        environment=environment,
        rules_loaded=len(rules),
        resource_rules=resource_rules,
        stack_rules=stack_rules,
        resources_checked=len(resources),
        violations=tuple(violations),
        not_applicable=tuple(not_applicable),
    )
