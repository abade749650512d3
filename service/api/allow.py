"""`Allow` on OPTIONS answers lists every method of the path.

Litestar builds a path's OPTIONS handler from the handlers registered with it first; a path whose
methods come from several controllers (GET in one, PUT in another) answered OPTIONS with only
some of them, while its 405s and the OpenAPI document list them all.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


def allow_every_method(app: Litestar) -> None:
    """Make `app`'s OPTIONS answers list all the methods of their path."""
    methods = {
        route.path_format: ", ".join(sorted(route.methods))
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }

    async def before_send(message: Message, scope: Scope) -> None:
        if (
            message["type"] == "http.response.start"
            and scope.get("method") == "OPTIONS"
            and message["status"] == 204
        ):
            allow = methods.get(str(scope.get("path_template", "")))
            if allow is not None:
                MutableScopeHeaders.from_message(message)["Allow"] = allow

    app.before_send.append(before_send)
