"""What widening language detection costs: memory, time per line and accuracy (issue 22).

Each configuration runs in a fresh process (so its RSS is its own): the detector is built,
its models loaded, and every line of the labelled chat corpus
(`tests/service/data/chat_corpus.tsv`) is detected with the author prior, as the service
does. Printed per configuration: RSS before and after loading, p50 and p99 detection time,
and accuracy overall and on lines of three words or fewer.

    .venv/bin/python -m bench.detection_cost            # a table
    .venv/bin/python -m bench.detection_cost --json     # one JSON object per configuration

Configurations: `fixed16` is the default `UTP_DETECTION_LANGUAGES` (16 languages);
`providers` every language this service has a code for that lingua knows (what DeepL, Google
and the LLMs translate together); each in lingua's high- and low-accuracy modes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "service" / "data" / "chat_corpus.tsv"
CONFIGS = ("fixed16", "fixed16-low", "providers", "providers-low")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(config: str) -> dict[str, object]:
    """Run in the child process: load one configuration and detect the corpus."""
    from service.settings import DetectionSettings
    from service.translation.detection import LanguageDetector, _lingua_language
    from service.translation.languages import LANGUAGES

    if config.startswith("fixed16"):
        codes = list(DetectionSettings().detection_languages)
    else:
        codes = [code for code in LANGUAGES if _lingua_language(code) is not None]
    rss_start = _rss_mb()
    detector = LanguageDetector(codes, low_accuracy=config.endswith("-low"))
    started = time.perf_counter()
    detector.load()
    load_seconds = time.perf_counter() - started
    rss_loaded = _rss_mb()

    rows = [
        row.split("\t")
        for row in CORPUS.read_text(encoding="utf-8").splitlines()
        if row and not row.startswith("#")
    ][1:]
    times: list[float] = []
    right = short_right = short_total = 0
    for language, author, text in rows:
        started = time.perf_counter()
        answer = detector.detect(text, author_language=author).language
        times.append(time.perf_counter() - started)
        short = len(text.split()) <= 3
        right += answer == language
        short_total += short
        short_right += short and answer == language
    times.sort()
    return {
        "config": config,
        "languages": len(detector.languages),
        "rss_start_mb": round(rss_start, 1),
        "rss_loaded_mb": round(rss_loaded, 1),
        "load_seconds": round(load_seconds, 2),
        "p50_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1000, 3),
        "accuracy": round(right / len(rows), 3),
        "accuracy_short": round(short_right / short_total, 3),
        "lines": len(rows),
    }


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--child":
        print(json.dumps(measure(argv[1])))
        return 0
    results = []
    for config in CONFIGS:
        done = subprocess.run(
            [sys.executable, "-m", "bench.detection_cost", "--child", config],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if "--json" in argv:
        for result in results:
            print(json.dumps(result))
        return 0
    columns = list(results[0])
    print(" | ".join(columns))
    for result in results:
        print(" | ".join(str(result[c]) for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
