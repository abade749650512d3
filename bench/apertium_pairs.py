"""Re-run the Apertium pair check: every checked direction over its chat sample.

`bench/apertium_pairs.json` holds, per Debian package, the directions checked, the chat lines
each was given (`samples`, written by hand: the same eight work-chat lines in every language),
what the engine made of them, and the verdict a reader gave. This script translates the
samples again with the installed modes (`apertium -u`, as the service runs them) and prints
each output next to the recorded one, so a new package version can be checked by eye:

    .venv/bin/python -m bench.apertium_pairs            # compare
    .venv/bin/python -m bench.apertium_pairs --update   # record the new outputs

Directions whose package is not installed are skipped (the recorded output stays).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).with_name("apertium_pairs.json")
MODES = Path("/usr/share/apertium/modes")


def translate(mode: str, lines: list[str]) -> list[str]:
    done = subprocess.run(
        ["apertium", "-u", mode],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.rstrip("\n").split("\n")


def main(argv: list[str]) -> int:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    update = "--update" in argv
    for package, entry in data["packages"].items():
        for direction in entry["directions"]:
            mode = direction["mode"]
            if not (MODES / f"{mode}.mode").exists():
                print(f"== {package} {mode}: not installed, skipped")
                continue
            got = translate(mode, data["samples"][direction["sample"]])
            print(f"== {package} {mode} ({entry['verdict']})")
            for new, old in zip(got, direction["output"], strict=False):
                print(f"   {new}" if new == old else f" ! {new}\n   (was) {old}")
            if update:
                direction["output"] = got
    if update:
        DATA.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
