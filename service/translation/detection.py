"""Offline language detection of chat lines: lingua, narrowed by workspace and author priors.

Generic detectors get short chat lines wrong ("ok thanks", "vale", "lunch?"). First the
writing system rules out what its letters cannot be (`scripts`: Hangul, kana, Greek, the
Cyrillic alphabets, the two Chinese scripts; Latin letters outside a language's alphabet
count against it), and every word counts by how often each language writes it
(`word_frequencies`: "tack", "bedankt", "merci"). Then two priors inform lingua's scores:
- `candidates`: the languages the workspace uses. Scores are restricted to them, unless none
  of them is plausible at all (lingua gives every candidate zero, e.g. Cyrillic text in a
  workspace that has only seen Latin-script languages), when the unrestricted answer stands.
- `author_language`: the author's recent language. For messages of at most
  `short_message_words` words it is a prior that favours the author's language
  `author_odds` to 1 over each other language, so it wins unless lingua's evidence for
  another language is that much stronger.

Lingua ships its models inside the wheel; nothing is downloaded. Building the detector is
free, but the first detection loads the models (seconds, and with the defaults ~390 MB: the
trigram models of all 42 languages, the high-accuracy models of 14 and the word table; see
`LanguageDetector` and bench/README.md): call `await detector.aload()` at start-up so that
no request pays for it and the event loop never waits on it. After that a detection takes
well under a millisecond for chat-sized text (input is capped at `MAX_DETECT_CHARS`), so
`detect()` is called inline from async code.

Text of at least `TRIGRAMS_FROM_CHARS` characters skips the second stage and is scored with
trigrams alone: 1- to 5-grams only pay off on short text. On both labelled corpora not one
answer changes (bench/README.md), while such a detection costs a third: lingua's lookups were
the largest single cost of a cache miss (bench/README.md, third round).
"""

from __future__ import annotations

import asyncio
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from service.translation import markup, scripts, shorthand, word_frequencies
from service.translation.languages import LANGUAGES, base_language, normalize

if TYPE_CHECKING:
    from lingua import LanguageDetector as LinguaDetector

    from service.settings import DetectionSettings

UNDETERMINED: Final = "und"  # BCP 47 "undetermined": nothing to detect from
MAX_DETECT_CHARS: Final = 1000  # more text adds cost, not accuracy
HIGH_ACCURACY_ODDS: Final = 30.0  # see LanguageDetector._scores and bench/README.md
FOREIGN_LETTER_ODDS: Final = 20.0  # a letter outside a language's alphabet: 20 to 1 against it
TRIGRAMS_FROM_CHARS: Final = 60  # from here on, trigrams alone (see above)
DEFAULT_AUTHOR_ODDS: Final = 5.0
MAX_ALTERNATIVES: Final = 4

_SENTINEL_RE: Final = re.compile(r"⟦\s*\d+\s*⟧")
# Rocket.Chat formatting characters and quote markers carry no language.
_FORMATTING_RE: Final = re.compile(r"(?:^|\s)>+|[*_~]+")
_WORD_RE: Final = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """The detected language (canonical code, or `UNDETERMINED`) and how sure we are."""

    language: str
    confidence: float  # 0..1, after priors
    alternatives: list[tuple[str, float]] = field(default_factory=list)  # next best, best first


def clean_text(text: str) -> str:
    """The part of a chat message that says something about its language.

    Code, URLs, mentions, channels, emoji and sentinels are removed (via `markup.protect`),
    as are formatting characters, chat shorthand and code-ish tokens (`lgtm`, `PROJ-123`,
    `settings.py`: see `shorthand`); whitespace is collapsed.
    """
    protected = markup.protect(text)
    stripped = _SENTINEL_RE.sub(" ", protected.text)
    stripped = _FORMATTING_RE.sub(" ", stripped)
    return shorthand.remove(stripped)


def word_count(text: str) -> int:
    """Words in `text`; runs of CJK characters count one word per two characters."""
    count = 0
    for word in _WORD_RE.findall(text):
        cjk = sum(1 for char in word if _is_cjk(char))
        count += (cjk + 1) // 2 + (1 if cjk < len(word) else 0)
    return count


def _is_cjk(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))


def _lingua_language(code: str) -> Language | None:
    iso = getattr(IsoCode639_1, base_language(code).upper(), None)
    return None if iso is None else Language.from_iso_code_639_1(iso)


def supported_languages() -> list[str]:
    """Every language this service has a code for that lingua has models for."""
    return [code for code in LANGUAGES if _lingua_language(code) is not None]


def _by_lingua(languages: Iterable[str]) -> dict[Language, list[str]]:
    by_lingua: dict[Language, list[str]] = {}
    for raw in languages:
        code = normalize(raw)
        lingua_language = None if code is None else _lingua_language(code)
        if code is None or lingua_language is None:
            raise ValueError(f"language detection does not support {raw!r}")
        codes = by_lingua.setdefault(lingua_language, [])
        if code not in codes:
            codes.append(code)
    return by_lingua


def _confidences(detector: LinguaDetector, text: str) -> dict[Language, float]:
    return {
        value.language: float(value.value)
        for value in detector.compute_language_confidence_values(text)
    }


class LanguageDetector:
    """Detects the canonical language code of chat text among a set of languages.

    Two stages, so that every language can be told apart without every language's largest
    models in memory: lingua's trigram models score all `languages`; then, for text shorter
    than `TRIGRAMS_FROM_CHARS`, the high-accuracy models (1- to 5-grams) of the
    `high_accuracy` languages share out, among those languages, the probability the trigrams
    gave them as a group (its odds raised `HIGH_ACCURACY_ODDS` times: trigrams alone are
    unreliable on short text). A line in Swedish keeps its trigram
    score; a line among the high-accuracy languages ("ok thanks": English, Dutch, German) is
    settled by the better models. Memory and accuracy of the choices: bench/README.md.

    Safe to share between tasks and threads; `load()` is idempotent.
    """

    def __init__(
        self,
        languages: Iterable[str] = (),
        *,
        high_accuracy: Iterable[str] | None = None,
        short_message_words: int = 3,
        author_odds: float = DEFAULT_AUTHOR_ODDS,
        low_accuracy: bool = False,
    ) -> None:
        """`languages` empty: every language with a code here that lingua knows.

        `high_accuracy` None: all of `languages`; `low_accuracy`: none of them.
        """
        self._by_lingua = _by_lingua(languages or supported_languages())
        if len(self._by_lingua) < 2:
            raise ValueError("language detection needs at least two languages")
        self._languages = frozenset(c for codes in self._by_lingua.values() for c in codes)
        if low_accuracy:
            high: frozenset[Language] = frozenset()
        elif high_accuracy is None:
            high = frozenset(self._by_lingua)
        else:
            high = frozenset(self._by_lingua) & frozenset(_by_lingua(high_accuracy))
        # One language alone gains nothing from a second stage: it would get all its group had.
        self._high = high if len(high) >= 2 else frozenset()
        self._short_message_words = short_message_words
        self._author_odds = author_odds
        self._trigrams: LinguaDetector | None = None  # every language, trigrams only
        self._detector: LinguaDetector | None = None  # the high-accuracy languages
        self._words: word_frequencies.WordFrequencies | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: DetectionSettings) -> LanguageDetector:
        return cls(
            settings.detection_languages,
            high_accuracy=settings.detection_high_accuracy_languages,
            short_message_words=settings.short_message_words,
            low_accuracy=settings.detection_low_accuracy,
        )

    @property
    def languages(self) -> frozenset[str]:
        return self._languages

    @property
    def high_accuracy_languages(self) -> frozenset[str]:
        return frozenset(c for lang in self._high for c in self._by_lingua[lang])

    @property
    def loaded(self) -> bool:
        return self._trigrams is not None

    def load(self) -> None:
        """Build lingua's detectors with their models in memory (blocking: seconds)."""
        with self._lock:
            if self._trigrams is not None:
                return
            self._words = word_frequencies.load()
            # Separate builders: lingua's builder methods change the builder they are called
            # on. Both detectors share the trigram models of the high-accuracy languages.
            if self._high:
                self._detector = (
                    LanguageDetectorBuilder.from_languages(*self._high)
                    .with_preloaded_language_models()
                    .build()
                )
            self._trigrams = (
                LanguageDetectorBuilder.from_languages(*self._by_lingua)
                .with_preloaded_language_models()
                .with_low_accuracy_mode()
                .build()
            )

    async def aload(self) -> None:
        """`load()` in a worker thread, for application start-up."""
        await asyncio.to_thread(self.load)

    def detect(
        self,
        text: str,
        *,
        candidates: frozenset[str] | None = None,
        author_language: str | None = None,
    ) -> DetectionResult:
        """The language of `text`, preferring `candidates` and, for short text, the author's.

        Text with nothing to detect (only markup, digits, punctuation or chat shorthand such
        as `lgtm`) is attributed to `author_language` with confidence 0, or `UNDETERMINED`
        when that is unknown.
        """
        author = normalize(author_language) if author_language else None
        cleaned = clean_text(text)[:MAX_DETECT_CHARS]
        if not any(char.isalpha() for char in cleaned):
            return DetectionResult(author or UNDETERMINED, 0.0)

        by_script = self._by_script(cleaned)
        allowed = self._allowed(candidates, by_script)
        if by_script is not None and len(allowed) == 1:
            return DetectionResult(next(iter(allowed)), 1.0)
        scores = self._scores(cleaned, allowed)
        restricted = {code: scores.get(code, 0.0) for code in allowed}
        # The script rules the others out; the workspace's languages only make them unlikely.
        if by_script is not None or sum(restricted.values()) > 0.0:
            scores = restricted
        if author in scores and word_count(cleaned) <= self._short_message_words:
            scores = self._with_author_prior(scores, author)
        ranked = sorted(_normalised(scores).items(), key=lambda item: item[1], reverse=True)
        if not ranked or ranked[0][1] <= 0.0:
            return DetectionResult(author or UNDETERMINED, 0.0)
        best, confidence = ranked[0]
        alternatives = [(code, value) for code, value in ranked[1:] if value > 0.0]
        return DetectionResult(best, confidence, alternatives[:MAX_ALTERNATIVES])

    def _by_script(self, text: str) -> frozenset[str] | None:
        """The configured languages the text's script allows (see `scripts`), if it says."""
        found = scripts.languages_of_script(text)
        if found is None:
            return None
        if found <= scripts.CHINESE and not found & self._languages:
            found = scripts.CHINESE  # the other Chinese script is the closer answer
        return (found & self._languages) or None

    def _allowed(
        self, candidates: frozenset[str] | None, by_script: frozenset[str] | None
    ) -> frozenset[str]:
        base = by_script or self._languages
        if not candidates:
            return base
        known = {normalize(code) for code in candidates}
        allowed = base & {code for code in known if code is not None}
        return frozenset(allowed) or base

    def _scores(self, text: str, allowed: frozenset[str]) -> dict[str, float]:
        if self._trigrams is None:
            self.load()
        assert self._trigrams is not None and self._words is not None
        by_lingua = _confidences(self._trigrams, text)
        if self._detector is not None and len(text) < TRIGRAMS_FROM_CHARS:
            group = sum(value for language, value in by_lingua.items() if language in self._high)
            if not any(by_lingua.values()):
                # Words of one or two letters have no trigrams ("Où es-tu", "Ca va"): only
                # the high-accuracy models, which also score 1- and 2-grams, have evidence.
                group = 1.0
            refined = _confidences(self._detector, text) if group > 0.0 else {}
            total = sum(refined.values())
            if total > 0.0:
                # The group's odds, raised by HIGH_ACCURACY_ODDS: the trigrams of 42 languages
                # scatter a short line over look-alikes ("klingt gut": Nynorsk).
                odds = group * HIGH_ACCURACY_ODDS
                share = odds / (odds + 1.0 - group)
                rest = (1.0 - share) / (1.0 - group) if group < 1.0 else 0.0
                by_lingua = {language: value * rest for language, value in by_lingua.items()}
                for language in self._high:
                    by_lingua[language] = share * refined.get(language, 0.0) / total
        scores: dict[str, float] = {}
        for language, value in by_lingua.items():
            codes = self._by_lingua.get(language, [])
            if len(codes) > 1:
                codes = [_chinese_script(text, [c for c in codes if c in allowed] or codes)]
            for code in codes:
                scores[code] = value
        # "öğle yemeği" has letters only Turkish writes, Vietnamese ư and ạ only Vietnamese; a
        # loanword's letter ("café") costs a language little against a long line's n-grams.
        for code, count in scripts.foreign_letters(text).items():
            if code in scores:
                scores[code] /= FOREIGN_LETTER_ODDS**count
        # Whole words: "hej" is among Swedish's most frequent words and rare in Polish.
        for code, factor in self._words.evidence(text, scores).items():
            scores[code] *= factor
        return scores

    def _with_author_prior(self, scores: dict[str, float], author: str) -> dict[str, float]:
        return {
            code: value * self._author_odds if code == author else value
            for code, value in scores.items()
        }


def _normalised(scores: dict[str, float]) -> dict[str, float]:
    total = sum(scores.values())
    if total <= 0.0:
        return scores
    return {code: value / total for code, value in scores.items()}


def _chinese_script(text: str, codes: list[str]) -> str:
    """Pick zh-Hans or zh-Hant (whichever is configured) from script-specific characters."""
    if len(codes) == 1:
        return codes[0]
    preferred = scripts.chinese_script(text)
    return preferred if preferred in codes else codes[0]
