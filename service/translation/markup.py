"""Markup protection: chat markup is swapped for numbered sentinels before a provider sees it.

Code, mentions, channels, emoji, URLs and Rocket.Chat links must reach readers byte for byte,
and no engine can be trusted with them. `protect()` replaces each with `⟦n⟧`; `restore()`
puts the originals back and refuses (returns None) when a provider lost, duplicated or
invented a sentinel, so the engine can try another provider instead of shipping a broken message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

OPEN: Final = "⟦"
CLOSE: Final = "⟧"

# Earlier alternatives win: a URL inside inline code stays part of the code span.
_PATTERNS: Final = [
    r"```.*?```",  # fenced code block (may span lines)
    r"`[^`\n]+`",  # inline code
    r"<i class=\"?notranslate\"?>.*?</i>",  # Rocket.Chat / LibreTranslate no-translate token
    r"<(?:https?://|mailto:)[^>|]+(?:\|[^>]*)?>",  # <url|label> links
    r"⟦[^⟧]*⟧",  # sentinel-looking text already in the input
    # bare URLs; trailing punctuation belongs to the sentence
    r"\b(?:https?://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]}]",
    r"(?<![\w@])@[A-Za-z0-9_.\-]*[A-Za-z0-9_]",  # @mentions (@all, @here, @user.name)
    r"(?<![\w#&])#[A-Za-z0-9_.\-]*[A-Za-z0-9_]",  # #channels
    r"(?<![\w:]):[a-z0-9_+\-]+:(?![\w:])",  # :emoji: shortcodes
    # Unicode emoji with modifiers, variation selectors, ZWJ sequences and flags.
    r"(?:[\U0001F1E6-\U0001F1FF]{2}"
    r"|[\u2600-\u27BF\U0001F000-\U0001FAFF\u2B00-\u2BFF\u2300-\u23FF]"
    r"[\uFE0F\U0001F3FB-\U0001F3FF]*"
    r"(?:\u200D[\u2600-\u27BF\U0001F000-\U0001FAFF][\uFE0F\U0001F3FB-\U0001F3FF]*)*)",
]
_TOKEN_RE: Final = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.DOTALL)
_SENTINEL_RE: Final = re.compile(r"⟦\s*(\d+)\s*⟧")


def sentinel(index: int) -> str:
    return f"{OPEN}{index}{CLOSE}"


@dataclass(frozen=True, slots=True)
class Protected:
    """Text with its markup swapped for sentinels, and the originals to put back."""

    text: str
    tokens: tuple[str, ...]

    @property
    def has_words(self) -> bool:
        """False when nothing but markup and whitespace is left: no provider call needed."""
        return bool(_SENTINEL_RE.sub("", self.text).strip(" \t\r\n.,;:!?-"))


def protect(text: str, terms: Mapping[str, str] | None = None) -> Protected:
    """Swap markup (and whole-word `terms`, case-insensitively) for sentinels.

    `terms` maps a term to what restores in its place: itself for a do-not-translate term, or
    the glossary's translation, so engines without glossaries still honour them.
    """
    markup = _remembered_markup(text) if len(text) <= _REMEMBERED_CHARS else _protect_markup(text)
    if not terms:
        return markup
    tokens = list(markup.tokens)
    lowered = {term.lower(): replacement for term, replacement in terms.items()}
    # Longest first, so "New York City" wins over "New York".
    alternatives = "|".join(re.escape(t) for t in sorted(lowered, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w⟦])(?:{alternatives})(?![\w⟧])", re.IGNORECASE)

    def swap_term(match: re.Match[str]) -> str:
        tokens.append(lowered[match.group(0).lower()])
        return sentinel(len(tokens) - 1)

    return Protected(pattern.sub(swap_term, markup.text), tuple(tokens))


def _protect_markup(text: str) -> Protected:
    tokens: list[str] = []

    def swap(match: re.Match[str]) -> str:
        tokens.append(match.group(0))
        return sentinel(len(tokens) - 1)

    return Protected(_TOKEN_RE.sub(swap, text), tuple(tokens))


# The markup step is remembered for chat-sized text, so repeated messages (the cached path,
# detection) go through the markup expressions once; `Protected` is immutable, so sharing it is
# safe. Bounded: at most 2 048 texts of at most 2 000 characters.
_REMEMBERED_CHARS = 2000
_remembered_markup = functools.lru_cache(maxsize=2048)(_protect_markup)


def restore(translated: str, tokens: tuple[str, ...]) -> str | None:
    """Put the original markup back, or None when the sentinels did not survive intact."""
    found = [int(m.group(1)) for m in _SENTINEL_RE.finditer(translated)]
    if sorted(found) != list(range(len(tokens))):
        return None
    return _SENTINEL_RE.sub(lambda m: tokens[int(m.group(1))], translated)


def sentinels_in(text: str) -> list[int]:
    return [int(m.group(1)) for m in _SENTINEL_RE.finditer(text)]


def to_tags(text: str, open_tag: str, close_tag: str = "") -> str:
    """Rewrite sentinels as markup a provider keeps, e.g. `<x id="{n}"/>` for DeepL's xml mode.

    `open_tag` is a format string with `{n}`; `close_tag` closes a paired tag when given.
    """
    return _SENTINEL_RE.sub(lambda m: open_tag.format(n=m.group(1)) + close_tag, text)


def from_pattern(text: str, pattern: re.Pattern[str]) -> str:
    """Turn a provider's own placeholder markup back into sentinels; group 1 is the index."""
    return pattern.sub(lambda m: sentinel(int(m.group(1))), text)
