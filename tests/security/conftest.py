"""Fixtures of the security tests: the usage tests' app starter (uvicorn in the test's loop,
SQLite or the session's real PostgreSQL)."""

from __future__ import annotations

from tests.service.usage.conftest import start

__all__ = ["start"]
