"""Our LibreTranslate encoding through the real LibreTranslate package (1.9.6, from PyPI).

The server itself cannot start offline: without a downloaded Argos model, `create_app` fails
on an empty language list (IndexError), and models come from the Argos index, not from PyPI.
So this runs the package's own html path (BeautifulSoup, `translate="no"` tags, the final
`unescape`) with Argos' identity model: what decides whether markup and entities survive.
`make test` installs the package into tests/.venvs/libretranslate (a venv of its own: it pins
Flask, Redis and Prometheus clients the service cannot share).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from service.translation.providers.libretranslate import decode, encode

ROOT = Path(__file__).resolve().parents[3]
PYTHON = ROOT / "tests/.venvs/libretranslate/bin/python"
SCRIPT = Path(__file__).with_name("libretranslate_html.py")

TEXTS = [
    "docs&notes",
    "a literal <br> tag",
    "&lt;b&gt; is not bold",
    "x &amp; y < z",
    "first line\nsecond ⟦0⟧ line\n\nfourth ⟦1⟧",
    '<code translate="no">not ours</code>',
    "quotes \"double\" and 'single'",
]


def test_the_real_servers_html_path_gives_back_what_was_sent(tmp_path: Path) -> None:
    if not PYTHON.exists():
        pytest.skip(f"LibreTranslate is not installed in {PYTHON.parent.parent}: run `make test`")
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    answered = subprocess.run(
        [str(PYTHON), str(SCRIPT)],
        input=json.dumps([encode(text) for text in TEXTS]),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert [decode(text) for text in json.loads(answered.stdout)] == TEXTS
