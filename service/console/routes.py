"""The console's own routes: its pages, its two static files, sign-in and sign-out.

Only signing in and out happen here; everything a page shows or changes goes through /api/v1
with the session cookie (service/console/sessions.py), under the API's own authorisation.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect

from service.accounts import roles
from service.accounts.identity import principal_from_claims
from service.accounts.keys import Principal
from service.console import pages, sessions
from service.container import Services
from service.db.models import Workspace
from service.errors import ServiceError, Unauthorized
from service.settings import Settings

log = logging.getLogger(__name__)
AnyRequest = Request[Any, Any, Any]

# The Content-Security-Policy and the other security headers of /console are added with every
# other response's (service/api/middleware.py); a signed-in page is never cached.
HEADERS = {"Cache-Control": "no-store"}
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}


def _html(body: str, status: int = 200, cookies: list[Cookie] | None = None) -> Response[str]:
    return Response(
        body,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=HEADERS,
        cookies=cookies,
    )


def _redirect(path: str, cookies: list[Cookie] | None = None) -> Redirect:
    return Redirect(path, status_code=303, headers=HEADERS, cookies=cookies)


def _cookie(settings: Settings, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=sessions.COOKIE,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        secure=settings.server.environment != "development",
        samesite="strict",
    )


async def _signed(request: AnyRequest, services: Services) -> sessions.Signed | None:
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        return None
    return await sessions.find_session(services.sessions, cookie, now=services.clock.now())


def _cross_site(request: AnyRequest) -> bool:
    """A form posted from another site (login CSRF): browsers say so in these headers."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    # Older browsers: the Origin header (absent from some same-origin posts).
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin).netloc != request.headers.get("host", "")


def _who(principal: Principal) -> str:
    if principal.user_id is not None:
        return f"Rocket.Chat user {principal.user_id}"
    return "admin API key"


@get("/", include_in_schema=False)
async def console_home() -> Redirect:
    return _redirect("/console/usage")


@get("/sign-in", include_in_schema=False)
async def sign_in_page(request: AnyRequest, services: Services) -> Response[Any]:
    if await _signed(request, services) is not None:
        return _redirect("/console/usage")
    return _html(pages.sign_in())


@post("/sign-in", include_in_schema=False, status_code=303)
async def sign_in(request: AnyRequest, services: Services) -> Response[Any]:
    if _cross_site(request):
        return _html(pages.sign_in("Sign in from the console's own page."), 403)
    form = await request.form()
    method = str(form.get("method", "key"))
    now = services.clock.now()
    not_after = None
    try:
        if method == "rocketchat":
            principal, not_after = await _rocketchat_principal(services, form)
        else:
            verifier = services.key_verifier
            principal = await verifier.verify(str(form.get("api_key", "")).strip())
    except ServiceError as exc:
        workspace = str(form.get("workspace", ""))[:200]
        status = exc.status_code if 400 <= exc.status_code < 500 else 503
        return _html(pages.sign_in(exc.message, workspace), status)
    if not roles.is_admin(principal):
        return _html(pages.sign_in("The console is for workspace admins."), 403)
    cookie, signed = await sessions.open_session(
        services.sessions, principal, now=now, not_after=not_after
    )
    max_age = int((signed.expires_at - now).total_seconds())
    return _redirect("/console/usage", [_cookie(services.settings, cookie, max_age)])


async def _rocketchat_principal(services: Services, form: Any) -> tuple[Principal, datetime]:
    """A Rocket.Chat login, checked exactly as POST /api/v1/auth/rocketchat checks it.

    The admin's Rocket.Chat token is used for its `GET /api/v1/me` and then dropped: it is
    not stored, not logged, and not logged out at Rocket.Chat (which would delete the admin's
    personal access token; the decision is in sessions.close_session).
    """
    workspace_id = await _workspace_id(services, str(form.get("workspace", "")).strip())
    user_id = str(form.get("user_id", "")).strip()
    auth_token = str(form.get("auth_token", "")).strip()
    limiter = services.usage.limiter
    await limiter.hit_exchange(workspace_id, api_key_id=None, user_id=user_id)
    try:
        done = await services.identity.exchange(workspace_id, user_id, auth_token, actor="console")
    except ServiceError:
        await limiter.exchange_failed(workspace_id, user_id=user_id)
        raise
    claims = done.token.claims
    return principal_from_claims(claims), datetime.fromtimestamp(claims.expires_at, UTC)


async def _workspace_id(services: Services, given: str) -> uuid.UUID:
    """A workspace by id or name; an unknown one reads like bad credentials."""
    try:
        return uuid.UUID(given)
    except ValueError:
        pass
    async with services.sessions() as session:
        found: uuid.UUID | None = await session.scalar(
            sa.select(Workspace.id).where(Workspace.name == given)
        )
    if found is None:
        raise Unauthorized("no such workspace", code="unknown_workspace")
    return found


@post("/sign-out", include_in_schema=False, status_code=303)
async def sign_out(request: AnyRequest, services: Services) -> Response[Any]:
    signed = await _signed(request, services)
    if signed is not None:
        form = await request.form()
        if not sessions.same_token(str(form.get("csrf_token", "")), signed.csrf_token):
            return _html(pages.sign_in("Sign out from the console's own page."), 403)
        await sessions.close_session(services.sessions, request.cookies[sessions.COOKIE])
    return _redirect("/console/sign-in", [_cookie(services.settings, "", 0)])


@get("/static/{name:str}", include_in_schema=False)
async def static(name: FromPath[str]) -> Response[bytes]:
    media_type = STATIC.get(name)
    if media_type is None:
        return Response(b"not found", status_code=404, media_type="text/plain")
    return Response(
        _static(name),
        media_type=f"{media_type}; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@cache
def _static(name: str) -> bytes:
    return (resources.files("service.console") / "static" / name).read_bytes()


@get("/{slug:str}", include_in_schema=False)
async def console_page(
    request: AnyRequest, services: Services, slug: FromPath[str]
) -> Response[Any]:
    signed = await _signed(request, services)
    if signed is None:
        return _redirect("/console/sign-in")
    today = services.clock.today()
    current = pages.page(slug, today)
    if current is None:
        missing = pages.Page("", "Not found", "<p>No such page of the console.</p>")
        return _html(pages.render(missing, csrf=signed.csrf_token, who=_who(signed.principal)), 404)
    return _html(pages.render(current, csrf=signed.csrf_token, who=_who(signed.principal)))


router = Router(
    path="/console",
    route_handlers=[console_home, sign_in_page, sign_in, sign_out, static, console_page],
    include_in_schema=False,
)
