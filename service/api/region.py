"""Writes refused while this region's database is a read-only replica (DR before promotion).

One check, keyed on the HTTP method and the route: reads pass, and so do the writes that need no
database write at once (translations: their usage events wait in the outbox; the chat webhook);
every other write (keys, glossaries, channels, settings, budgets, tokens, ...) is answered 503
`read_only_region` with a Retry-After before its handler runs. A new write route is refused on
a replica unless it is listed here. A write that slips through before the role is known is
refused by the database itself (SQLSTATE 25006) and gets the same answer (`api/errors.py`).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request

from service.container import services_of
from service.db.role import read_only_region

_READS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
SERVED_ON_REPLICA: Final = frozenset(
    {
        "/api/v1/translate",
        "/api/v1/translate/batch",
        "/api/v1/detect",
        "/libretranslate/translate",
        "/libretranslate/detect",
        "/integrations/rocketchat/outgoing",
    }
)


async def refuse_writes_on_replica(request: Request[Any, Any, Any]) -> None:
    """Litestar `before_request` hook (after authentication, before the body is parsed)."""
    if request.method in _READS:
        return
    # A hook, so no dependency injection: the app's services from their one place.
    if not services_of(request.app).database_role.read_only:
        return
    route = request.scope.get("path_template")
    if route in SERVED_ON_REPLICA:
        return
    raise read_only_region(f"{request.method} {route}")
