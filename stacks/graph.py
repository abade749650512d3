"""The resource graph of a stack as recorded under Pulumi's mocks.

`utp-infra plan` prints it and `utp-infra policy-check` feeds it to the policy pack, so both
see exactly what `pulumi preview` would register.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RecordedResource:
    type: str  # Pulumi type token, e.g. "aws:rds/instance:Instance" or "pulumi:providers:aws"
    name: str  # logical name
    urn: str
    inputs: dict[str, Any]  # as the engine passed them to the mocks (camelCase keys)
    outputs: dict[str, Any] = field(default_factory=dict)  # what the mocks answered
    provider_urn: str | None = None  # the explicit provider's URN (None = default provider)
    parent_urn: str | None = None
    protect: bool = False
    custom: bool = True  # False for ComponentResources
    # URNs the engine waits for before creating it: `depends_on` plus the resources whose
    # outputs feed its inputs (a component in `depends_on` stands for its children).
    depends_on: tuple[str, ...] = ()
