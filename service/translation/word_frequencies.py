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

In memory the table is three flat arrays, ~6 MB for ~950 000 entries: the CRC-32 of each word,
sorted, with each entry's language and Zipf frequency (log10 of occurrences per billion words,
× 10). A lookup is one binary search. Two words with the same CRC-32 share their entries; with
~800 000 distinct words that happens to a few dozen pairs of rare words, which costs nothing
measurable.
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
from typing import Final

DATA: Final = Path(__file__).with_name("data") / "word_frequencies.tsv.gz"
# A word's frequency ratio counts as its square root: at full weight, lines of rare words
# (a Bokmål sentence, a name-heavy Romance line) were pulled to whichever language lists them.
WORD_WEIGHT: Final = 0.5
# A word outside a language's list is taken as this much rarer (in Zipf units) than the
# least frequent word the list keeps: not in the top 30 000 means rare, not impossible.
ABSENT_BELOW: Final = 1.0
# Longer lines have n-grams enough: 12, 20 or 40 words give the same answers on all three
# corpora (bench/README.md), and every word costs a pass over the ~32 lists that have it.
MAX_WORDS: Final = 12

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


class WordFrequencies:
    """The frequency table: which languages list a word, and how often they write it."""

    def __init__(
        self, languages: list[str], hashes: array[int], codes: array[int], zipfs: array[int]
    ) -> None:
        self._languages = languages  # index -> wordfreq code
        self._index = {language: i for i, language in enumerate(languages)}
        self._hashes = hashes
        self._codes = codes
        self._zipfs = zipfs
        floors = [255] * len(languages)
        for code, zipf in zip(codes, zipfs, strict=True):
            floors[code] = min(floors[code], zipf)
        self._absent = [floor / 10 - ABSENT_BELOW for floor in floors]

    @property
    def languages(self) -> frozenset[str]:
        """The languages with a list (wordfreq's codes: plain ISO 639-1)."""
        return frozenset(self._languages)

    def __len__(self) -> int:
        return len(self._hashes)

    def zipf(self, word: str) -> dict[str, float]:
        """The Zipf frequency of an already normalised word in each language that lists it."""
        return {self._languages[i]: zipf for i, zipf in self._entries(word).items()}

    def evidence(self, text: str, codes: Iterable[str]) -> dict[str, float]:
        """A factor in (0, 1] per language code for the words of `text`; 1 for the likeliest.

        Codes are ours (`pt-BR` reads the Portuguese list); a code without a list gets the
        factor of a language at the listed languages' mean.
        """
        logs = dict.fromkeys(codes, 0.0)
        by_list: dict[int, list[str]] = {}
        for code in logs:
            index = self._index.get(code.split("-")[0])
            if index is not None:
                by_list.setdefault(index, []).append(code)
        listed = sum(len(same) for same in by_list.values())
        if listed < 2:
            return dict.fromkeys(logs, 1.0)
        # Per word, a listed code scores its Zipf frequency, or its list's absent value, minus
        # the mean over listed codes. Summed over words that is (words x absent) + the gains of
        # the entries found - the sum of the means: only the languages that list a word cost
        # time, not all 32 for every word.
        absent_total = sum(self._absent[i] * len(same) for i, same in by_list.items())
        gains = {code: 0.0 for same in by_list.values() for code in same}
        counted = 0
        means = 0.0
        for entries in self._lookup_all(words(text)):
            counted += 1
            total = absent_total
            for i, zipf in entries.items():
                same = by_list.get(i)
                if same is not None:
                    gain = zipf - self._absent[i]
                    total += gain * len(same)
                    for code in same:
                        gains[code] += gain
            means += total / listed
        for i, same in by_list.items():
            for code in same:
                logs[code] = counted * self._absent[i] + gains[code] - means
        top = max(logs.values())
        return {code: 10.0 ** (WORD_WEIGHT * (value - top)) for code, value in logs.items()}

    def _entries(self, word: str) -> dict[int, float]:
        """The word's Zipf frequency by list index, for the lists that have it."""
        key = zlib.crc32(word.encode())
        i = bisect_left(self._hashes, key)
        found: dict[int, float] = {}
        while i < len(self._hashes) and self._hashes[i] == key:
            found[self._codes[i]] = self._zipfs[i] / 10
            i += 1
        return found

    def _lookup_all(self, words: list[str]) -> list[dict[int, float]]:
        """Each word's entries; for an unlisted word with apostrophes, its parts' ("c'est").

        A word no list has (a name, a typo) is left out: it says nothing about the language.
        """
        found: list[dict[int, float]] = []
        for word in words:
            entries = self._entries(word)
            if not entries and "'" in word:
                found.extend(e for part in word.split("'") if (e := self._entries(part)))
            elif entries:
                found.append(entries)
        return found

    @classmethod
    def read(cls, path: Path) -> WordFrequencies:
        """Read a table in the format `scripts/build_word_frequencies.py` writes (~2 s)."""
        languages: dict[str, int] = {}
        # One int per entry, CRC-32 above language and Zipf: sorting them sorts by word hash,
        # without a tuple per entry (the table would briefly cost ten times its size).
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
                keys.append(zlib.crc32(word.encode()) << 16 | code << 8 | int(zipf))
        keys.sort()
        hashes = array("I", (key >> 16 for key in keys))
        codes = array("B", (key >> 8 & 0xFF for key in keys))
        zipfs = array("B", (key & 0xFF for key in keys))
        return cls(list(languages), hashes, codes, zipfs)


@functools.cache
def load() -> WordFrequencies:
    """The service's table (`DATA`), read once per process: every detector shares it."""
    return WordFrequencies.read(DATA)
