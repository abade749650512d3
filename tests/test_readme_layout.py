"""README's layout section and its links name files that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_every_path_of_the_layout_section_exists() -> None:
    layout = _section((ROOT / "README.md").read_text(), "Layout")
    block = layout.split("```")[1]
    named = [line.split()[0] for line in block.splitlines() if line.strip()]
    named += re.findall(r"\(([^)#\s]+\.md)\)", layout)  # markdown links
    named += re.findall(r"(?:^|[\s(])((?:[\w.-]+/)+[\w.-]+\.(?:py|md|yml|yaml))", block, re.M)
    assert len(named) >= 10
    missing = [path for path in named if not (ROOT / path).exists()]
    assert not missing, f"README's layout section names paths that do not exist: {missing}"
