"""How often each language writes a word: evidence where lingua's n-grams have little to go on.

On a line of a few words, n-gram models see too little and among 42 languages a look-alike
often wins: "Hej" reads as Polish, "ok bedankt" as German, "Dricker du" as Danish. Whole words
say more: "hej" is one of Swedish's most frequent words and rare in Polish. So each word of a
line counts for a language by how often that language writes it, relative to the others:
`evidence` multiplies a language's score by (its frequency / the languages' geometric mean) to
the power `WORD_WEIGHT`. A word no language lists (a name, a typo, a product) says nothing; a
language without a list (Esperanto, Estonian, Basque, Nynorsk, and the CJK and Thai scripts,
which `scripts` decides) stays neutral, at the mean.

The frequencies are wordfreq's (3.1.1; data CC BY-SA 4.0: subtitles, Wikipedia, news, books,
web and social media text), kept as data in `data/word_frequencies.tsv.gz` by
`scripts/build_word_frequencies.py`: the 30 000 most frequent words of 32 languages. Unlike a
word list written by hand, nothing in them was chosen by looking at a test corpus.

In memory the table is the sorted CRC-32s of its ~710 000 distinct words and, for each, one
row of 32 packed fields: how far above its language's absent value the word's Zipf frequency
(log10 of occurrences per billion words, in tenths) is, 0 where the language does not list it
(~30 MB). A line's words are one binary search each, and their rows are summed as Python
integers, all languages at once: English work chat, whose words every list has, cost ~365 µs
a line with a loop over each word's languages and a third of that now (bench/README.md). Two
words with the same CRC-32 share a row; with ~710 000 words that happens to a few dozen pairs
of rare words, which costs nothing measurable.
"""

from __future__ import annotations

import functools
import gzip
import re
import unicodedata
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path
from typing import Final, NamedTuple

DATA: Final = Path(__file__).with_name("data") / "word_frequencies.tsv.gz"
# A word's frequency ratio counts as its square root: at full weight, lines of rare words
# (a Bokmål sentence, a name-heavy Romance line) were pulled to whichever language lists them.
WORD_WEIGHT: Final = 0.5
# A word outside a language's list is taken as this much rarer (in tenths of a Zipf unit)
# than the least frequent word the list keeps: not in the top 30 000 means rare, not impossible.
ABSENT_BELOW: Final = 10
# Longer lines have n-grams enough: 12, 20 or 40 words give the same answers on all three
# corpora (bench/README.md).
MAX_WORDS: Final = 12
# A row's field holds one word's gain (at most 59 in the data; a CRC-32 collision can add a
# second word's), and a line's sum of at most MAX_WORDS rows must not overflow into the next
# field: gains are capped at FIELD_MAX, and MAX_WORDS * FIELD_MAX < 2**FIELD_BITS.
FIELD_BITS: Final = 10
FIELD_MAX: Final = 85

_WORD_RE: Final = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_TOKEN_RE: Final = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def normalise_word(word: str) -> str | None:
    """The form words are listed and looked up in (as wordfreq casefolds), or None if not a word.

    Case folded ("Straße" → "strasse", as wordfreq lists it), the typographic apostrophe made
    plain, Turkish "İ" folded to "i" rather than "i" with a combining dot.
    """
    normal = unicodedata.normalize("NFC", word).casefold()
    normal = normal.replace("’", "'").replace("i\u0307", "i")
    return normal if _WORD_RE.fullmatch(normal) else None


def words(text: str) -> list[str]:
    """The words of `text`, normalised, at most `MAX_WORDS`."""
    found = (normalise_word(token) for token in _TOKEN_RE.findall(text))
    return [word for word in found if word is not None][:MAX_WORDS]


class _Plan(NamedTuple):
    """The lists a set of codes reads: pt and pt-BR read one list."""

    lists: tuple[int, ...]  # fields of the row
    codes: tuple[tuple[str, ...], ...]  # the codes reading each
    listed: int  # codes with a list


class WordFrequencies:
    """The frequency table: which languages list a word, and how often they write it."""

    def __init__(
        self, languages: list[str], absent: list[int], hashes: array[int], rows: bytearray
    ) -> None:
        self._languages = languages  # field -> wordfreq code
        self._index = {language: i for i, language in enumerate(languages)}
        self._absent = absent  # per field, in tenths of a Zipf unit
        self._hashes = hashes  # sorted CRC-32s, one per row
        self._rows = rows
        self._row_bytes = (FIELD_BITS * len(languages) + 7) // 8
        self._plans: dict[tuple[str, ...], _Plan | None] = {}

    @property
    def languages(self) -> frozenset[str]:
        """The languages with a list (wordfreq's codes: plain ISO 639-1)."""
        return frozenset(self._languages)

    def __len__(self) -> int:
        """The distinct words (by CRC-32)."""
        return len(self._hashes)

    def zipf(self, word: str) -> dict[str, float]:
        """The Zipf frequency of an already normalised word in each language that lists it."""
        row = self._row(word)
        found: dict[str, float] = {}
        for i, language in enumerate(self._languages):
            gain = row >> (FIELD_BITS * i) & (1 << FIELD_BITS) - 1
            if gain:
                found[language] = (self._absent[i] + gain) / 10
        return found

    def evidence(self, text: str, codes: Iterable[str]) -> dict[str, float]:
        """A factor in (0, 1] per language code for the words of `text`; 1 for the likeliest.

        Codes are ours (`pt-BR` reads the Portuguese list); a code without a list gets the
        factor of a language at the listed languages' mean.
        """
        order = tuple(codes)
        plan = self._plan(order)
        rows = self._rows_of(words(text))
        if plan is None or not rows:
            return dict.fromkeys(order, 1.0)
        # Per word, a listed code scores its frequency (or its list's absent value) minus the
        # mean over listed codes. Summed over the words that is (words x absent) + the code's
        # summed gain - the sum of the means, and the means sum up from the same totals.
        total, counted, mask = sum(rows), len(rows), (1 << FIELD_BITS) - 1
        sums = [counted * self._absent[i] + (total >> FIELD_BITS * i & mask) for i in plan.lists]
        weighted = sum(value * len(same) for value, same in zip(sums, plan.codes, strict=True))
        mean = weighted / plan.listed
        # In tenths of a Zipf unit, relative to the mean, where codes without a list sit.
        relative = [value - mean for value in sums]
        top = max(relative) if plan.listed == len(order) else max(0.0, *relative)
        factors = dict.fromkeys(order, 10.0 ** (WORD_WEIGHT * -top / 10))
        for value, same in zip(relative, plan.codes, strict=True):
            factor = 10.0 ** (WORD_WEIGHT * (value - top) / 10)
            for code in same:
                factors[code] = factor
        return factors

    def _plan(self, codes: tuple[str, ...]) -> _Plan | None:
        """Which lists `codes` read; None when fewer than two codes have one. Cached:
        detection asks for the same few sets of codes."""
        if codes in self._plans:
            return self._plans[codes]
        by_list: dict[int, list[str]] = {}
        for code in codes:
            index = self._index.get(code.split("-")[0])
            if index is not None:
                by_list.setdefault(index, []).append(code)
        plan = _Plan(
            lists=tuple(by_list),
            codes=tuple(tuple(same) for same in by_list.values()),
            listed=sum(len(same) for same in by_list.values()),
        )
        result = plan if plan.listed >= 2 else None
        if len(self._plans) < 256:
            self._plans[codes] = result
        return result

    def _row(self, word: str) -> int:
        """The word's packed row, 0 if no list has it."""
        key = zlib.crc32(word.encode())
        i = bisect_left(self._hashes, key)
        if i == len(self._hashes) or self._hashes[i] != key:
            return 0
        size = self._row_bytes
        return int.from_bytes(self._rows[i * size : (i + 1) * size], "little")

    def _rows_of(self, words: list[str]) -> list[int]:
        """The rows of the words some list has, at most MAX_WORDS; an unlisted word with
        apostrophes counts by its parts ("c'est"). A word no list has (a name, a typo) is left
        out: it says nothing about the language."""
        rows: list[int] = []
        for word in words:
            row = self._row(word)
            if row:
                rows.append(row)
            elif "'" in word:
                rows.extend(part for piece in word.split("'") if (part := self._row(piece)))
        return rows[:MAX_WORDS]

    @classmethod
    def read(cls, path: Path) -> WordFrequencies:
        """Read a table in the format `scripts/build_word_frequencies.py` writes (~4 s)."""
        languages: dict[str, int] = {}
        floors: list[int] = []
        # One int per entry, CRC-32 above language and Zipf: sorting them groups each word's
        # entries, without a tuple per entry (the table would briefly cost ten times its size).
        keys: list[int] = []
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.startswith("#"):
                    continue
                fields = line.rstrip("\n").split("\t")
                if len(fields) != 3 or not fields[2].isdigit() or int(fields[2]) > 255:
                    raise ValueError(f"{path} line {number}: expected language, word, Zipf x 10")
                language, word, zipf = fields
                code = languages.setdefault(language, len(languages))
                if code == len(floors):
                    floors.append(255)
                floors[code] = min(floors[code], int(zipf))
                keys.append(zlib.crc32(word.encode()) << 16 | code << 8 | int(zipf))
        keys.sort()
        absent = [floor - ABSENT_BELOW for floor in floors]
        size = (FIELD_BITS * len(languages) + 7) // 8
        hashes, rows = array("I"), bytearray()
        row, previous = 0, -1
        for key in keys:
            crc, code, value = key >> 16, key >> 8 & 0xFF, key & 0xFF
            if crc != previous:
                if previous >= 0:
                    hashes.append(previous)
                    rows += row.to_bytes(size, "little")
                row, previous = 0, crc
            shift = FIELD_BITS * code
            field = row >> shift & (1 << FIELD_BITS) - 1
            gain = min(FIELD_MAX, field + value - absent[code])
            row += gain - field << shift
        if previous >= 0:
            hashes.append(previous)
            rows += row.to_bytes(size, "little")
        return cls(list(languages), absent, hashes, rows)


@functools.cache
def load() -> WordFrequencies:
    """The service's table (`DATA`), read once per process: every detector shares it."""
    return WordFrequencies.read(DATA)
