"""Who asks for a translation on an API request; the one `Translator` that admits it is
`Services.translator` (service/container.py).

Shared by the v1 API and the LibreTranslate API; the Rocket.Chat integration reaches the same
`Translator` through the chat bot (service/admission/translator.py).
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from service.api.auth import principal_of
from service.translation.engine import Caller

AnyRequest = Request[Any, Any, Any]


def caller_of(request: AnyRequest, channel_id: str | None = None) -> Caller:
    """The request's verified identity (its key, or its token's user) and the channel it names."""
    principal = principal_of(request)
    return Caller(
        workspace_id=principal.workspace_id,
        api_key_id=principal.api_key_id,
        user_id=getattr(principal, "user_id", None),
        channel_id=channel_id,
    )
