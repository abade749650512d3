"""A channel's maximum cost per message, enforced around every paid provider call.

One cap covers one message, across all the languages it is translated into. A provider whose
estimate would take the message over the cap is refused like an exhausted budget, so the
engine moves on to a cheaper one (eventually the free offline engine) or answers 402.
"""

from __future__ import annotations

from decimal import Decimal

from service.errors import BudgetExceeded
from service.observability import metrics
from service.translation.engine import SpendGuard
from service.translation.providers.base import Provider


class MessageCostCap:
    def __init__(self, cap: Decimal, inner: SpendGuard | None = None) -> None:
        self._cap = cap
        self._inner = inner
        self._held = Decimal(0)
        self._spent = Decimal(0)

    @property
    def spent(self) -> Decimal:
        return self._spent

    async def reserve(self, provider: Provider, estimate: Decimal) -> object:
        if self._spent + self._held + estimate > self._cap:
            metrics.BUDGET_ENFORCEMENTS.labels(action="message_cap").inc()
            raise BudgetExceeded(
                f"translating this message with {provider.name} would cost about USD "
                f"{estimate:.6f}, over the channel's limit of USD {self._cap:f} per message",
                code="message_cost_cap",
                details={"max_cost_per_message": float(self._cap)},
            )
        inner = await self._inner.reserve(provider, estimate) if self._inner else None
        self._held += estimate
        return (inner, estimate)

    async def settle(self, reservation: object, actual: Decimal) -> None:
        assert isinstance(reservation, tuple)
        inner, estimate = reservation
        self._held -= estimate
        self._spent += actual
        if self._inner is not None:
            await self._inner.settle(inner, actual)
