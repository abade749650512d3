"""Budgets (admin) and usage analytics (read:usage); translations are admitted against them by
service/admission/translator.py."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.accounts import audit
from service.api.auth import principal_of
from service.container import Services
from service.errors import NotFound, ValidationFailed
from service.usage import analytics
from service.usage.budgets import BudgetState

AnyRequest = Request[Any, Any, Any]
MAX_RANGE_DAYS = 3660


# -- budgets --------------------------------------------------------------------------------


class Budget(msgspec.Struct, frozen=True):
    id: uuid.UUID
    scope: Literal["workspace", "channel", "user"]
    subject: str | None
    monthly_limit: float
    soft_limit_ratio: float
    currency: str
    period: str
    spent: float
    reserved: float
    remaining: float
    utilisation: float
    status: Literal["ok", "soft_limit", "exhausted"]
    resets_at: datetime
    updated_at: datetime


class Budgets(msgspec.Struct, frozen=True):
    budgets: list[Budget]


# A decimal string ("5", "0.60") from 0 to budgets.MAX_LIMIT, without exponent, `_` or NaN:
# a form the OpenAPI document can state exactly (api/openapi.py), as it states a number's range.
LIMIT_TEXT = r"^\s*\+?0*(?:[0-9]{1,9}(?:\.[0-9]*)?|\.[0-9]+|1000000000(?:\.0*)?)\s*$"


class BudgetUpdate(msgspec.Struct, frozen=True):
    """Create or replace the budget of a scope (and subject: the channel or user id)."""

    scope: Literal["workspace", "channel", "user"]
    # USD, as a JSON number or a decimal string (exact: no binary rounding).
    monthly_limit: float | Annotated[str, msgspec.Meta(pattern=LIMIT_TEXT)]
    subject: str | None = None
    soft_limit_ratio: float | None = None


def _amount(value: float | str) -> Decimal:
    """A number by its shortest spelling (0.1 is 0.1, not 0.1000000000000000055...)."""
    return Decimal(repr(value) if isinstance(value, float) else value.strip())


def _budget(state: BudgetState) -> Budget:
    return Budget(
        id=state.id,
        scope=state.scope,  # type: ignore[arg-type]
        subject=state.subject,
        monthly_limit=float(state.monthly_limit),
        soft_limit_ratio=state.soft_limit_ratio,
        currency="USD",
        period=state.period,
        spent=float(state.spent),
        reserved=float(state.reserved),
        remaining=float(state.remaining),
        utilisation=state.utilisation,
        status=state.status,  # type: ignore[arg-type]
        resets_at=state.resets_at,
        updated_at=state.updated_at,
    )


def _audit_view(row: Any) -> dict[str, Any]:
    return {
        "scope": row.scope,
        "subject": row.subject or None,
        "monthly_limit_nanos": row.limit_nanos,
        "soft_limit_ratio": row.soft_limit_ratio,
    }


def _budget_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"no budget {value!r} in this workspace") from None


class BudgetsController(Controller):
    path = "/budgets"
    tags = ["usage"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", opt={"scope": "admin"}, summary="The workspace's budgets and this month's spend")
    async def list_budgets(self, request: AnyRequest, services: Services) -> Budgets:
        states = await services.usage.budgets.all(principal_of(request).workspace_id)
        return Budgets(budgets=[_budget(s) for s in states])

    @put("/", opt={"scope": "admin"}, status_code=200, summary="Set a monthly budget")
    async def put_budget(
        self, request: AnyRequest, services: Services, data: JSONBody[BudgetUpdate]
    ) -> Budget:
        budgets = services.usage.budgets
        principal = principal_of(request)
        async with services.sessions.begin() as session:
            before, after = await budgets.put(
                session,
                principal.workspace_id,
                scope=data.scope,
                subject=data.subject,
                monthly_limit=_amount(data.monthly_limit),
                soft_limit_ratio=data.soft_limit_ratio,
            )
            await audit.record(
                session,
                actor=audit.actor_of(principal),
                action="budget.set",
                target=f"budget:{after.id}",
                workspace_id=principal.workspace_id,
                before=_audit_view(before) if before is not None else None,
                after=_audit_view(after),
            )
        return _budget(await budgets.get(principal.workspace_id, after.id))

    @get("/{budget_id:str}", opt={"scope": "admin"}, summary="One budget")
    async def get_budget(
        self, request: AnyRequest, services: Services, budget_id: FromPath[str]
    ) -> Budget:
        state = await services.usage.budgets.get(
            principal_of(request).workspace_id, _budget_id(budget_id)
        )
        return _budget(state)

    @delete("/{budget_id:str}", opt={"scope": "admin"}, summary="Remove a budget")
    async def delete_budget(
        self, request: AnyRequest, services: Services, budget_id: FromPath[str]
    ) -> None:
        principal = principal_of(request)
        async with services.sessions.begin() as session:
            row = await services.usage.budgets.delete(
                session, principal.workspace_id, _budget_id(budget_id)
            )
            await audit.record(
                session,
                actor=audit.actor_of(principal),
                action="budget.delete",
                target=f"budget:{budget_id}",
                workspace_id=principal.workspace_id,
                before=_audit_view(row),
            )


# -- analytics ------------------------------------------------------------------------------


class Figures(msgspec.Struct, frozen=True):
    translations: int
    characters: int
    input_tokens: int
    output_tokens: int
    cost: float
    cache_hits: int
    cache_hit_ratio: float | None
    errors: int
    error_rate: float | None
    p50_latency_ms: float | None
    p95_latency_ms: float | None


class UsageGroup(msgspec.Struct, frozen=True):
    key: str | None
    figures: Figures


class UsageReport(msgspec.Struct, frozen=True):
    from_: date = msgspec.field(name="from")
    to: date = msgspec.field(name="to")
    group_by: str | None = None
    currency: str = "USD"
    totals: Figures | None = None
    groups: list[UsageGroup] = msgspec.field(default_factory=list)


def _figures(f: analytics.Figures) -> Figures:
    return Figures(
        translations=f.translations,
        characters=f.characters,
        input_tokens=f.input_tokens,
        output_tokens=f.output_tokens,
        cost=float(f.cost),
        cache_hits=f.cache_hits,
        cache_hit_ratio=f.cache_hit_ratio,
        errors=f.errors,
        error_rate=f.error_rate,
        p50_latency_ms=f.p50_latency_ms,
        p95_latency_ms=f.p95_latency_ms,
    )


@get(
    "/usage",
    opt={"scope": "read:usage"},
    tags=["usage"],
    summary="Usage totals and groups (JSON, or CSV with Accept: text/csv)",
    description=(
        "Days are UTC and inclusive; `from` defaults to the first of this month, `to` to today. "
        "p50/p95 are estimated from a fixed-bucket latency histogram."
    ),
)
async def usage_report(
    request: AnyRequest,
    services: Services,
    from_: Annotated[date | None, QueryParameter(name="from")] = None,
    to: FromQuery[date | None] = None,
    group_by: FromQuery[
        Literal["day", "user", "channel", "provider", "language_pair"] | None
    ] = None,
) -> Response[Any]:
    end = to or services.clock.today()
    start = from_ or end.replace(day=1)
    if start > end:
        raise ValidationFailed("from: must not be after `to`", details={"field": "from"})
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise ValidationFailed(
            f"from/to: at most {MAX_RANGE_DAYS} days at once", details={"field": "from"}
        )
    result = await analytics.report(
        services.sessions,
        principal_of(request).workspace_id,
        start=start,
        end=end,
        group_by=group_by,
    )
    if "text/csv" in request.headers.get("accept", ""):
        name = f"usage-{start.isoformat()}-{end.isoformat()}.csv"
        return Response(
            analytics.to_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(
        UsageReport(
            from_=start,
            to=end,
            group_by=group_by,
            totals=_figures(result.totals),
            groups=[UsageGroup(key=g.key, figures=_figures(g.figures)) for g in result.groups],
        )
    )


USAGE_ROUTES: list[Any] = [BudgetsController, usage_report]
