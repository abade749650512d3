"""Request and response bodies of the v1 API."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

# At least one character that is not white space, and no NUL (which the edge guard refuses):
# the server answers `empty_text` otherwise (service/api/errors.py), and the schema says so.
NON_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
Text = Annotated[str, msgspec.Meta(pattern=NON_BLANK)]


class ContextItem(msgspec.Struct, frozen=True):
    text: str
    author: str | None = None


class TranslateRequest(msgspec.Struct, frozen=True):
    text: Text
    target_lang: str
    source_lang: str = "auto"
    context: list[ContextItem] = msgspec.field(default_factory=list)
    quality_tier: Literal["economy", "balanced", "premium"] | None = None
    formality: Literal["more", "less", "default"] | None = None
    # One the workspace has enabled (its configuration decides): unknown_provider otherwise.
    provider: str | None = None
    # The Rocket.Chat room the text comes from: its channel glossary applies too.
    channel_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class BatchTranslateRequest(msgspec.Struct, frozen=True):
    # Litestar leaves the items' own constraint out of the schema: api/openapi.py states it.
    texts: Annotated[list[Text], msgspec.Meta(min_length=1)]
    target_lang: str | None = None
    target_langs: list[str] | None = None
    source_lang: str = "auto"
    context: list[ContextItem] = msgspec.field(default_factory=list)
    quality_tier: Literal["economy", "balanced", "premium"] | None = None
    formality: Literal["more", "less", "default"] | None = None
    # One the workspace has enabled (its configuration decides): unknown_provider otherwise.
    provider: str | None = None
    # The Rocket.Chat room the text comes from: its channel glossary applies too.
    channel_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class Cost(msgspec.Struct, frozen=True):
    amount: float
    currency: str
    characters: int
    tokens: int


class Translation(msgspec.Struct, frozen=True):
    translated_text: str
    source_lang: str
    target_lang: str
    provider: str | None
    model: str | None
    cached: bool
    untranslated: bool
    cost: Cost
    request_id: str | None
    # Languages the text went through when no direct pair exists, e.g. ["fr", "es", "en"].
    pivot: list[str] = msgspec.field(default_factory=list)


class ItemError(msgspec.Struct, frozen=True):
    code: str
    message: str


class BatchItem(msgspec.Struct, frozen=True):
    """One (text, target language) of a batch: a translation, or the error for that item."""

    text_index: int
    target_lang: str
    translated_text: str | None = None
    source_lang: str | None = None
    provider: str | None = None
    model: str | None = None
    cached: bool = False
    untranslated: bool = False
    cost: Cost | None = None
    pivot: list[str] = msgspec.field(default_factory=list)
    error: ItemError | None = None


class BatchResponse(msgspec.Struct, frozen=True):
    translations: list[BatchItem]
    request_id: str | None


class DetectRequest(msgspec.Struct, frozen=True):
    text: Text


class Alternative(msgspec.Struct, frozen=True):
    language: str
    confidence: float


class Detection(msgspec.Struct, frozen=True):
    language: str
    confidence: float
    alternatives: list[Alternative]


class Language(msgspec.Struct, frozen=True):
    code: str
    name: str
    providers: list[str]


class Languages(msgspec.Struct, frozen=True):
    languages: list[Language]
