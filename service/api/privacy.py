"""Privacy requests about one user of the workspace: export (JSON) and erasure.

`user_id` is the Rocket.Chat user id (what the ledger records). Admins may do both; a signed-in
user may export their own data.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get
from litestar.params import FromPath

from service.accounts import audit
from service.api.auth import principal_of
from service.container import Services
from service.errors import Forbidden
from service.usage import privacy

AnyRequest = Request[Any, Any, Any]


def _is_admin(scopes: frozenset[str]) -> bool:
    return "admin" in scopes or "operator" in scopes


class PrivacyController(Controller):
    path = "/users"
    tags = ["privacy"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get(
        "/{user_id:str}/export",
        opt={"scope": "translate"},
        summary="Everything stored about a user (admins, or the user themself)",
    )
    async def export(
        self, request: AnyRequest, services: Services, user_id: FromPath[str]
    ) -> dict[str, Any]:
        principal = principal_of(request)
        if not _is_admin(principal.scopes) and getattr(principal, "user_id", None) != user_id:
            raise Forbidden(
                "only an admin or the user themself may export a user's data",
                code="insufficient_scope",
            )
        return await privacy.export_user(
            services.sessions, services.usage.recorder, principal.workspace_id, user_id
        )

    @delete(
        "/{user_id:str}",
        opt={"scope": "admin"},
        status_code=200,
        summary="Erase a user: profile, preferences and budgets deleted, usage anonymised",
    )
    async def erase(
        self, request: AnyRequest, services: Services, user_id: FromPath[str]
    ) -> dict[str, Any]:
        principal = principal_of(request)
        async with services.sessions.begin() as session:
            counts = await privacy.erase_user(
                session,
                services.usage.recorder,
                principal.workspace_id,
                user_id,
                erasure_key=services.usage.erasure_key,
            )
            await audit.record(
                session,
                actor=audit.actor_of(principal),
                action="user.erase",
                # Not the id itself: the audit log must not keep what was just erased.
                target="user:erased",
                workspace_id=principal.workspace_id,
                after=counts,
            )
        return {"erased": True, **counts}
