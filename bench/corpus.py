"""A realistic English chat corpus: short and long lines, mentions, links, emoji, code, and a
chosen share of repeated messages ("ok", "thanks!", a link pasted twice).

Built deterministically (seeded) from the labelled English lines of the detection test corpus
plus templates of work chat, so a run is reproducible and "first-time" lines never repeat.
"""

from __future__ import annotations

import random
from pathlib import Path

_TSV = Path(__file__).resolve().parent.parent / "tests" / "service" / "data" / "chat_corpus.tsv"

_SUBJECTS = [
    "the release",
    "the deployment",
    "the staging cluster",
    "the new dashboard",
    "the login page",
    "the database migration",
    "the quarterly report",
    "the customer demo",
    "the design review",
    "the on-call rotation",
    "the invoice export",
    "the mobile app",
    "the search index",
    "the backup job",
    "the onboarding guide",
]
_PREDICATES = [
    "is ready for review",
    "failed again this morning",
    "needs another pair of eyes",
    "was moved to next week",
    "looks good to me",
    "is blocked by the network team",
    "will be late by a day or two",
    "passed all the tests",
    "broke after the last update",
    "is almost done",
]
_OPENERS = ["", "Hi team, ", "Quick update: ", "FYI ", "Good morning! ", "Heads up, ", "Sorry, "]
_CLOSERS = [
    "",
    " Can you check?",
    " Thanks!",
    " Let me know what you think.",
    " I will send the details after lunch.",
    " :thumbsup:",
    " 🎉",
    " See https://wiki.example.com/page/{n}",
    " cc @maria",
    " The error is in `deploy.sh` line {n}.",
]
_SHORT = ["ok", "thanks!", "sounds good", "on it", "lgtm", "👍", "see you tomorrow", "done"]


def english_lines() -> list[str]:
    """The English lines of the labelled chat corpus."""
    lines = []
    for row in _TSV.read_text(encoding="utf-8").splitlines():
        if row.startswith("#") or row.startswith("language\t"):
            continue
        parts = row.split("\t")
        if len(parts) == 3 and parts[0] == "en":
            lines.append(parts[2])
    return lines


def unique_messages(
    count: int, seed: int = 7, tag: str = "", *, labelled: bool = True
) -> list[str]:
    """`count` distinct chat messages (the same for the same arguments); `labelled=False`
    leaves out the labelled corpus lines (short ones, whose language a detector may doubt)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    base = english_lines() if labelled else []
    for line in base:
        text = f"{line} ({tag})" if tag else line
        if len(out) < count and text not in seen:
            seen.add(text)
            out.append(text)
    n = 0
    while len(out) < count:
        n += 1
        text = (
            rng.choice(_OPENERS)
            + rng.choice(_SUBJECTS)
            + " "
            + rng.choice(_PREDICATES)
            + "."
            + rng.choice(_CLOSERS).format(n=rng.randint(2, 999))
        )
        text = text[0].upper() + text[1:]
        # Ticket numbers keep lines distinct, as real messages are.
        text = f"{text} (ticket {tag}{n})"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def mixed(count: int, repeat_share: float, seed: int = 11, tag: str = "mix") -> list[str]:
    """`count` messages of which about `repeat_share` repeat an earlier one or a stock reply."""
    rng = random.Random(seed)
    fresh = iter(unique_messages(count, seed=seed, tag=tag))
    out: list[str] = []
    for _ in range(count):
        if out and rng.random() < repeat_share:
            out.append(rng.choice(out[-200:] + _SHORT))
        else:
            out.append(next(fresh))
    return out
