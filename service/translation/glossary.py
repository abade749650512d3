"""A glossary as the engine sees it: an immutable snapshot with a version for the cache key."""

from __future__ import annotations

from dataclasses import dataclass

from service.translation.languages import base_language
from service.translation.providers.base import GlossaryEntry


@dataclass(frozen=True, slots=True)
class Term:
    source_lang: str
    source: str
    # Both None: a do-not-translate term. Otherwise the translation into target_lang.
    target_lang: str | None = None
    target: str | None = None


@dataclass(frozen=True, slots=True)
class GlossarySnapshot:
    id: str
    version: int
    terms: tuple[Term, ...]
    # The glossaries this snapshot merges, unchanged by their edits (`id` changes with them).
    scope: str = ""

    @property
    def tag(self) -> str:
        """Changes whenever the glossary changes: part of every cache key it applies to."""
        return f"{self.id}:{self.version}"

    def keep(self, source: str) -> dict[str, str]:
        """Do-not-translate terms for text in `source`: each restores as itself."""
        src = base_language(source)
        return {
            t.source: t.source
            for t in self.terms
            if t.target is None and base_language(t.source_lang) == src
        }

    def pairs(self, source: str, target: str) -> tuple[GlossaryEntry, ...]:
        src, tgt = base_language(source), base_language(target)
        return tuple(
            GlossaryEntry(source=t.source, target=t.target)
            for t in self.terms
            if t.target is not None
            and t.target_lang is not None
            and base_language(t.source_lang) == src
            and base_language(t.target_lang) == tgt
        )
