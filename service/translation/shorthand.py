"""Chat shorthand and code-ish tokens: words that belong to no language.

`lgtm`, `+1`, `ok`, `brb`, a ticket id (`PROJ-123`), a file name (`settings.py`), a commit hash
or a version number say nothing about the language of the message they are in, and a message
made only of them needs no translation: a detector forced to pick a language for `lgtm`
picks German or French, and the engine then mistranslates it or answers 422 because no
provider serves the pair. So:

- `remove()` drops them before detection, so that "lgtm, lo subo ahora" is read as Spanish;
- `languageless()` says a message has nothing else: detection attributes it to the author's
  language (or "und") with confidence 0, and the engine returns it as it is, untranslated and
  never refused.

The list is deliberately small: only tokens that are not also a common word of a language the
service detects (`ty` is Polish for "you", `eta` Basque for "and", `nit` Catalan for "night").
"""

from __future__ import annotations

import re
from typing import Final

# Lower-cased chat shorthand, compared after trailing punctuation is removed.
SHORTHAND: Final = frozenset(
    {
        "ack", "afaik", "afk", "asap", "brb", "btw", "fyi", "gg", "gtg", "iirc", "idk", "imho",
        "imo", "kk", "lgtm", "lol", "nack", "np", "nvm", "ok", "okay", "okey", "oki", "omw",
        "ptal", "rofl", "sgtm", "tbh", "tia", "tl;dr", "tldr", "thx", "ttyl", "wfm", "wip",
        "xd",
    }
)  # fmt: skip

_FILE_EXTENSIONS: Final = (
    "c|cfg|conf|cpp|cs|css|csv|docx|env|gif|go|gz|h|hpp|html|ini|ipynb|java|jpeg|jpg|js|json|"
    "jsx|kt|lock|log|md|mp4|pdf|php|png|pptx|proto|py|rb|rs|sh|sql|svg|swift|tar|toml|ts|tsx|"
    "txt|xlsx|xml|yaml|yml|zip"
)
_CODEISH: Final = re.compile(
    "|".join(
        (
            r"[+-]\d+",  # +1, -1, +100
            r"[A-Z][A-Z0-9]{1,9}-\d+",  # ticket ids: PROJ-123, OPS2-7
            rf"[\w.~/-]*\w\.(?:{_FILE_EXTENSIONS})",  # file names and paths with one
            r"(?:\.{0,2}/|~/)[\w.-]+(?:/[\w.-]+)*/?",  # paths: /etc/hosts, ./run, ~/x
            r"v?\d+(?:\.\d+)+(?:-[\w.]+)?",  # versions: 1.2, v2.0.1-rc1
            r"(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}",  # commit hashes
            r"\w+_\w+|\w+\(\)",  # identifiers: user_id, main()
        )
    )
)
# Punctuation around a token ("lgtm!", "(PROJ-123)", "ok,") is not part of it.
_EDGES: Final = "\"'()[]{}<>,.;:!?¡¿…"


def _is_languageless(token: str) -> bool:
    word = token.strip(_EDGES)
    if not word:
        return True
    if word.lower() in SHORTHAND:
        return True
    if _CODEISH.fullmatch(word):
        return True
    return not any(char.isalpha() for char in word)


def remove(text: str) -> str:
    """`text` without its shorthand and code-ish tokens (whitespace collapsed)."""
    return " ".join(token for token in text.split() if not _is_languageless(token))


def languageless(text: str) -> bool:
    """True when `text` has no word that belongs to a language (only shorthand, ids, files)."""
    return all(_is_languageless(token) for token in text.split())
