"""The policy tests judge support dates against a fixed day, never the wall clock."""

from __future__ import annotations

from datetime import date

import pytest

from policies.rules import eks_calendar

TODAY = date(2026, 12, 7)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> date:
    monkeypatch.setattr(eks_calendar, "today", lambda: TODAY)
    return TODAY
