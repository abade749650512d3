"""Every /api/v1 route of workspaces, identities, preferences, channels and the audit log."""

from __future__ import annotations

from typing import Any

from service.api.audit import audit_log
from service.api.channels import ChannelsController
from service.api.me import MeController
from service.api.tokens import AuthController
from service.api.workspaces import WorkspacesController

ACCOUNT_ROUTES: list[Any] = [
    WorkspacesController,
    AuthController,
    MeController,
    ChannelsController,
    audit_log,
]
