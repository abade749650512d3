"""Build `service/translation/data/word_frequencies.tsv.gz` from the `wordfreq` package.

Language detection weighs each word of a line by how often each language writes it
(`service.translation.word_frequencies`). The figures are wordfreq's, not ours: wordfreq 3.1.1
(Robyn Speer; code Apache-2.0, data CC BY-SA 4.0) merges subtitles, Wikipedia, news, books,
web text and social media per language. The service does not depend on the package (56 MB,
four more dependencies): this script keeps the `TOP_WORDS` most frequent words of each language
the service detects, with their Zipf frequency, as data in the repository.

Rebuild it (wordfreq is installed only for this, in a scratch directory):

    pip install --target /tmp/wordfreq wordfreq==3.1.1
    PYTHONPATH=/tmp/wordfreq .venv/bin/python scripts/build_word_frequencies.py

Lines are `language<TAB>word<TAB>zipf × 10`, each language's words from the most frequent down
(languages in alphabetical order).
Words are kept only when they are letters, optionally joined by apostrophes, as the service
tokenises them; wordfreq's own tokens for numbers and CJK are left out (CJK text is decided by
its script, `service/translation/scripts.py`).
"""

from __future__ import annotations

import gzip
import sys
from importlib import metadata

import wordfreq

from service.translation.detection import supported_languages
from service.translation.word_frequencies import DATA, normalise_word

VERSION = "3.1.1"
TOP_WORDS = 30_000  # per language: 20 000 lost a point on short lines, 50 000 gained nothing
# wordfreq's lists for these need a segmenter (jieba, MeCab) the service does not run.
SEGMENTED = frozenset({"zh", "ja", "ko", "th"})


def wordlist_code(code: str) -> str | None:
    """wordfreq's code for one of ours (pt-BR reads the Portuguese list), if it has a list."""
    base = code.split("-")[0]
    if base in SEGMENTED or base not in wordfreq.available_languages("best"):
        return None
    return base


def top_words(language: str) -> list[tuple[str, int]]:
    """The `TOP_WORDS` most frequent words of `language` as (word, zipf × 10)."""
    words: list[tuple[str, int]] = []
    seen: set[str] = set()
    for word in wordfreq.iter_wordlist(language, "best"):
        normal = normalise_word(word)
        if normal is None or normal in seen:
            continue
        seen.add(normal)
        words.append((normal, round(wordfreq.zipf_frequency(word, language) * 10)))
        if len(words) == TOP_WORDS:
            break
    return words


def main() -> int:
    installed = metadata.version("wordfreq")
    if installed != VERSION:
        print(f"wordfreq {VERSION} is needed, {installed} is installed", file=sys.stderr)
        return 2
    languages = sorted({c for code in supported_languages() if (c := wordlist_code(code))})
    rows = [(language, word, zipf) for language in languages for word, zipf in top_words(language)]
    header = [
        f"# wordfreq {VERSION} (PyPI; code Apache-2.0, data CC BY-SA 4.0, Robyn Speer):",
        f"# up to {TOP_WORDS} most frequent words of {len(languages)} languages, commonest first.",
        "# Built by scripts/build_word_frequencies.py. Columns: language, word, Zipf x 10.",
    ]
    body = [f"{language}\t{word}\t{zipf}" for language, word, zipf in rows]
    DATA.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(header + body) + "\n"
    # mtime=0 and no file name: the same lines give the same bytes.
    with DATA.open("wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as out:
        out.write(text.encode())
    print(f"{len(rows)} words, {len(languages)} languages -> {DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
