"""Runs texts through the LibreTranslate package's html path with an identity model.

Run by the interpreter of the LibreTranslate venv (see the Makefile), never by pytest: it
reads a JSON array of html texts on stdin and prints what the server would answer for each,
`unescape(str(translate_html(translator, text)))` as `libretranslate/app.py` (1.9.6) does,
with Argos' IdentityTranslation standing in for a downloaded model.
"""

from __future__ import annotations

import json
import sys
from html import unescape

from argostranslate.translate import IdentityTranslation, Language  # type: ignore[import-not-found]
from argostranslatefiles.translatehtml import translate_html  # type: ignore[import-not-found]


def main() -> None:
    model = IdentityTranslation(Language("en", "English"))
    texts = json.load(sys.stdin)
    json.dump([unescape(str(translate_html(model, text))) for text in texts], sys.stdout)


if __name__ == "__main__":
    main()
