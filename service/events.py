"""The usage event: what the engine reports for every translated text. usage/recorder.py keeps it.

A module of its own below both: the engine produces events and the usage package stores them,
and neither package imports the other for it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from service.ids import random_uuid


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One usage event. A msgspec Struct: built on every request, and journalled as msgpack."""

    workspace_id: uuid.UUID
    target_lang: str
    outcome: str
    source_lang: str | None = None
    api_key_id: uuid.UUID | None = None
    user_id: str | None = None
    channel_id: str | None = None
    provider: str | None = None
    model: str | None = None
    characters: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    latency_ms: float = 0.0
    cache_hit: bool = False
    id: uuid.UUID = msgspec.field(default_factory=random_uuid)
    created_at: datetime = msgspec.field(default_factory=lambda: datetime.now(UTC))
