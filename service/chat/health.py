"""What went wrong lately with each workspace's Rocket.Chat bot, for its status route."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    at: datetime


class HealthBoard:
    """The last problem and the last delivery of each workspace (per process)."""

    def __init__(self) -> None:
        self._problems: dict[uuid.UUID, Problem] = {}
        self._delivered: dict[uuid.UUID, datetime] = {}

    def problem(self, workspace_id: uuid.UUID, code: str, message: str) -> None:
        self._problems[workspace_id] = Problem(code, message, datetime.now(UTC))

    def delivered(self, workspace_id: uuid.UUID) -> None:
        """A delivery went through: Rocket.Chat problems noted before are over."""
        self._delivered[workspace_id] = datetime.now(UTC)
        problem = self._problems.get(workspace_id)
        if problem is not None and problem.code.startswith("rocketchat_"):
            del self._problems[workspace_id]

    def last_problem(self, workspace_id: uuid.UUID) -> Problem | None:
        return self._problems.get(workspace_id)

    def last_delivery(self, workspace_id: uuid.UUID) -> datetime | None:
        return self._delivered.get(workspace_id)
