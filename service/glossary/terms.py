"""Validation of glossary rows, shared by the JSON API and CSV/TSV import.

A row is `source_lang, target_lang, source_term, target_term`. An empty `target_term` makes a
do-not-translate term: it applies whatever the target language, so its `target_lang` is dropped.
Every problem names where it is (`line 4`, `entries[3]`) and what is wrong; all problems are
reported together (up to `MAX_REPORTED`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from service.errors import ValidationFailed
from service.translation import languages

MAX_ENTRIES: Final = 10_000
MAX_TERM_CHARS: Final = 500
MAX_REPORTED: Final = 20
COLUMNS: Final = ("source_lang", "target_lang", "source_term", "target_term")
_FORBIDDEN: Final = ("\t", "\r", "\n", "⟦", "⟧")


@dataclass(frozen=True, slots=True)
class Row:
    source_lang: str
    target_lang: str | None  # None for a do-not-translate term
    source_term: str
    target_term: str | None

    @property
    def key(self) -> tuple[str, str | None, str]:
        """Two rows with the same key would contradict each other."""
        return (self.source_lang, self.target_lang, self.source_term.casefold())


@dataclass(frozen=True, slots=True)
class RawRow:
    where: str  # "line 4" or "entries[3]"
    source_lang: str
    target_lang: str
    source_term: str
    target_term: str


class Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append({"where": where, "message": message})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = self.items[0]
        more = len(self.items) - 1
        message = f"{first['where']}: {first['message']}"
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ValidationFailed(
            message, code="invalid_glossary", details={"errors": self.items[:MAX_REPORTED]}
        )


def validate(raw: Iterable[RawRow], problems: Problems) -> list[Row]:
    """Canonical rows; problems are collected (call `problems.raise_if_any()` after)."""
    rows: list[Row] = []
    seen: dict[tuple[str, str | None, str], str] = {}
    for item in raw:
        row = _row(item, problems)
        if row is None:
            continue
        earlier = seen.get(row.key)
        if earlier is not None:
            problems.add(
                item.where,
                f"duplicate of {earlier} (same source_lang, target_lang and source_term)",
            )
            continue
        seen[row.key] = item.where
        rows.append(row)
    if len(rows) > MAX_ENTRIES:
        problems.add("glossary", f"at most {MAX_ENTRIES} entries, got {len(rows)}")
    return rows


def _row(item: RawRow, problems: Problems) -> Row | None:
    before = len(problems.items)
    source_lang = _language(item.source_lang, "source_lang", item.where, problems, required=True)
    source_term = _term(item.source_term, "source_term", item.where, problems, required=True)
    target_term = _term(item.target_term, "target_term", item.where, problems, required=False)
    target_lang: str | None = None
    if target_term:
        target_lang = _language(
            item.target_lang, "target_lang", item.where, problems, required=True
        )
        if source_lang and target_lang and languages.same_language(source_lang, target_lang):
            problems.add(item.where, "source_lang and target_lang are the same language")
    elif item.target_lang.strip():
        # Validated even though a do-not-translate term drops it: a typo should not pass.
        _language(item.target_lang, "target_lang", item.where, problems, required=False)
    if len(problems.items) > before or not source_lang or not source_term:
        return None
    return Row(source_lang, target_lang, source_term, target_term or None)


def _language(
    value: str, field: str, where: str, problems: Problems, *, required: bool
) -> str | None:
    text = value.strip()
    if not text:
        if required:
            problems.add(where, f"{field} is empty")
        return None
    code = languages.normalize(text)
    if code is None:
        problems.add(where, f"{field} {text!r} is not a known language code")
    return code


def _term(value: str, field: str, where: str, problems: Problems, *, required: bool) -> str:
    text = value.strip()
    if not text:
        if required:
            problems.add(where, f"{field} is empty")
        return ""
    if len(text) > MAX_TERM_CHARS:
        problems.add(where, f"{field} is longer than {MAX_TERM_CHARS} characters")
    elif any(c in text for c in _FORBIDDEN):
        problems.add(where, f"{field} contains a tab, a line break or a ⟦ ⟧ bracket")
    return text
