"""Language detection: accuracy, memory and time per line of each detector configuration.

Each configuration runs in a fresh process (so its RSS is its own): the detector is built, its
models loaded, and every line of the two labelled corpora is detected:

- the package corpus (`tests/service/data/detection_corpus/`, `bench.detection_corpus`):
  real lines from two published packages, 36 languages, ~40 % of three words or fewer. It has
  no authors, so it is detected without priors ("none", what `/detect` answers for someone's
  first message) and with the line's own language as the author's recent one ("author", the
  common case: people write in the language they usually write in).
- the chat corpus (`tests/service/data/chat_corpus.tsv`): 384 lines of work chat in 12
  languages, each with its author's usual language ("author" as the service uses it), and
  without priors ("none": `/detect` for a first message, or a corpus run through the API
  with no author).
- the held-out corpus (`tests/service/data/chat_corpus_fresh.tsv`): 576 lines of work chat in
  24 languages, half of three words or fewer, written by a session that saw neither the
  detector nor the other corpora; measured the same two ways ("fresh_none", "fresh_author").

Printed per configuration: RSS before and after loading, load time, p50 and p99 detection
time on the package corpus, and accuracy overall and on lines of at most three words.

    .venv/bin/python -m bench.detection_cost            # a table
    .venv/bin/python -m bench.detection_cost --json     # one JSON object per configuration

Configurations: `default` is what the service runs (every language, trigrams plus the
high-accuracy models of 16, `LanguageDetector`); `fixed16` the default before issue 22 (16
languages, high accuracy); `all-low` every language, trigrams only
(`UTP_DETECTION_LOW_ACCURACY=true`); `all-high` every language, high accuracy; `lingua` plain
lingua (high accuracy, restricted to the package corpus' languages, and again to the held-out
corpus' languages, no cleaning, no priors; Chinese counted right on the language, as lingua has
no scripts).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import detection_corpus
from service.settings import DetectionSettings

DATA = Path(__file__).resolve().parents[1] / "tests" / "service" / "data"
CHAT_CORPUS = DATA / "chat_corpus.tsv"
FRESH_CORPUS = DATA / "chat_corpus_fresh.tsv"
CONFIGS = ("default", "fixed16", "all-low", "all-high", "lingua")
# The default before issue 22: 16 languages, all with high-accuracy models.
FIXED16 = (
    *("en", "es", "fr", "de", "it", "pt", "ca", "nl"),
    *("pl", "ru", "uk", "tr", "ja", "zh-Hans", "ko", "ar"),
)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def chat_lines(path: Path = CHAT_CORPUS) -> list[tuple[str, str, str]]:
    rows = [
        row.split("\t")
        for row in path.read_text(encoding="utf-8").splitlines()
        if row and not row.startswith("#")
    ][1:]
    return [(language, author, text) for language, author, text in rows]


def score(
    lines: list[tuple[str, str | None, str, bool]], detect: Callable[[str, str | None], str]
) -> dict[str, Any]:
    """Accuracy over (language, author, text, short) lines; times every detection."""
    times: list[float] = []
    right = short_right = short_total = 0
    for language, author, text, short in lines:
        started = time.perf_counter()
        answer = detect(text, author)
        times.append(time.perf_counter() - started)
        hit = answer == language or answer == language.split("-")[0]  # plain lingua: no scripts
        right += hit
        short_total += short
        short_right += hit and short
    times.sort()
    return {
        "accuracy": round(right / len(lines), 3),
        "accuracy_short": round(short_right / short_total, 3),
        "lines": len(lines),
        "short_lines": short_total,
        "p50_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(times[max(0, int(len(times) * 0.99) - 1)] * 1000, 3),
    }


def measure(config: str) -> dict[str, Any]:
    """Run in the child process: load one configuration and detect both corpora."""
    from service.translation.detection import LanguageDetector, word_count

    corpus = detection_corpus.load()
    rss_start = rss_mb()
    started = time.perf_counter()
    detect: Callable[[str, str | None], str]
    if config == "lingua":
        detect, languages = _plain_lingua({line.language for line in corpus})
    else:
        detector = {
            "default": lambda: LanguageDetector.from_settings(DetectionSettings()),
            "fixed16": lambda: LanguageDetector(FIXED16),
            "all-low": lambda: LanguageDetector(low_accuracy=True),
            "all-high": lambda: LanguageDetector(),
        }[config]()
        detector.load()
        languages = len(detector.languages)

        def detect(text: str, author: str | None) -> str:
            return detector.detect(text, author_language=author).language

    load_seconds = time.perf_counter() - started
    rss_loaded = rss_mb()
    result: dict[str, Any] = {
        "config": config,
        "languages": languages,
        "rss_start_mb": round(rss_start, 1),
        "rss_loaded_mb": round(rss_loaded, 1),
        "load_seconds": round(load_seconds, 2),
    }
    package = [(line.language, None, line.text, line.short) for line in corpus]
    result["package_none"] = score(package, detect)
    fresh = [
        (lang, author, text, word_count(text) <= 3)
        for lang, author, text in chat_lines(FRESH_CORPUS)
    ]
    if config == "lingua":
        # Plain lingua again, restricted to the held-out corpus' own languages.
        detect, _ = _plain_lingua({lang for lang, _, _, _ in fresh})
        result["fresh_none"] = score([(lang, None, t, s) for lang, _, t, s in fresh], detect)
    if config != "lingua":
        own = [(lang, lang, text, short) for lang, _, text, short in package]
        result["package_author"] = score(own, detect)
        chat = [(lang, author, text, word_count(text) <= 3) for lang, author, text in chat_lines()]
        result["chat_author"] = score(chat, detect)
        result["chat_none"] = score([(lang, None, t, s) for lang, _, t, s in chat], detect)
        result["fresh_author"] = score(fresh, detect)
        result["fresh_none"] = score([(lang, None, t, s) for lang, _, t, s in fresh], detect)
    return result


def _plain_lingua(languages: set[str]) -> tuple[Callable[[str, str | None], str], int]:
    from lingua import LanguageDetectorBuilder

    from service.translation.detection import _lingua_language

    by_lingua = {}
    for code in languages:
        found = _lingua_language(code)
        if found is not None:
            by_lingua[found] = code.split("-")[0]
    detector = LanguageDetectorBuilder.from_languages(*by_lingua).with_preloaded_language_models()

    built = detector.build()

    def detect(text: str, author: str | None) -> str:
        found = built.detect_language_of(text)
        return "und" if found is None else by_lingua.get(found, "und")

    return detect, len(by_lingua)


def run_config(config: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.detection_cost", "--child", config],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--child":
        print(json.dumps(measure(argv[1])))
        return 0
    configs = [arg for arg in argv if not arg.startswith("--")] or list(CONFIGS)
    results = [run_config(config) for config in configs]
    if "--json" in argv:
        for result in results:
            print(json.dumps(result))
        return 0
    print("config | languages | RSS start/loaded MB | load s | p50/p99 ms | accuracy (all/short)")
    for r in results:
        cells = [
            f"{name} {r[name]['accuracy']:.3f}/{r[name]['accuracy_short']:.3f}"
            for name in (
                *("package_none", "package_author", "chat_author", "chat_none"),
                *("fresh_none", "fresh_author"),
            )
            if name in r
        ]
        timing = r["package_none"]
        print(
            f"{r['config']} | {r['languages']} | {r['rss_start_mb']:.0f}/{r['rss_loaded_mb']:.0f}"
            f" | {r['load_seconds']} | {timing['p50_ms']}/{timing['p99_ms']} | " + ", ".join(cells)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
