"""What a translation request runs with: its workspace's providers, glossary and priors.

Shared by the v1 API, the LibreTranslate façade and the Rocket.Chat integration, so that all
three translate with the same keys, glossaries and detection priors.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar import Request

from service.accounts.languages import LanguagePriors
from service.accounts.providers import Routing, WorkspaceProviders
from service.api.auth import principal_of
from service.glossary.loader import GlossaryLoader
from service.translation.engine import Options
from service.translation.glossary import GlossarySnapshot

AnyRequest = Request[Any, Any, Any]


async def with_priors(request: AnyRequest, options: Options) -> Options:
    """Narrow detection to the workspace's languages and, for short texts, the author's."""
    if options.source is not None:
        return options
    principal = principal_of(request)
    priors: LanguagePriors = request.app.state.language_priors
    return dataclasses.replace(
        options,
        candidates=await priors.candidates(principal.workspace_id),
        author_language=await priors.author_language(principal.workspace_id, principal.user_id),
    )


async def workspace_routing(
    request: AnyRequest, channel_id: str | None
) -> tuple[Routing, GlossarySnapshot | None]:
    """The caller's workspace providers (its own keys) and the glossary that applies."""
    workspace_id = principal_of(request).workspace_id
    providers: WorkspaceProviders = request.app.state.workspace_providers
    glossaries: GlossaryLoader = request.app.state.glossaries
    return await providers.resolve(workspace_id), await glossaries.snapshot(
        workspace_id, channel_id
    )
