"""Language codes: one canonical BCP 47 spelling (as Rocket.Chat expects) per accepted code."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from service.errors import ValidationFailed

# Canonical code -> English name. Codes are BCP 47 locale identifiers: a lowercase ISO 639-1
# language, plus a script or region subtag only where translation engines distinguish them.
LANGUAGES: Final[dict[str, str]] = {
    "an": "Aragonese",
    "ar": "Arabic",
    "ast": "Asturian",
    "bg": "Bulgarian",
    "ca": "Catalan",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "eo": "Esperanto",
    "es": "Spanish",
    "et": "Estonian",
    "eu": "Basque",
    "fi": "Finnish",
    "fr": "French",
    "gl": "Galician",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "id": "Indonesian",
    "is": "Icelandic",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "mk": "Macedonian",
    "nb": "Norwegian Bokmål",
    "nl": "Dutch",
    "nn": "Norwegian Nynorsk",
    "oc": "Occitan",
    "pl": "Polish",
    "pt": "Portuguese",
    "pt-BR": "Portuguese (Brazil)",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sv": "Swedish",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh-Hans": "Chinese (Simplified)",
    "zh-Hant": "Chinese (Traditional)",
}

# Other spellings clients send (lowercased) -> canonical code.
_ALIASES: Final[dict[str, str]] = {
    "en-us": "en",
    "en-gb": "en",
    "es-es": "es",
    "es-419": "es",
    "es-mx": "es",
    "fr-fr": "fr",
    "fr-ca": "fr",
    "de-de": "de",
    "pt-pt": "pt",
    "pb": "pt-BR",
    "no": "nb",
    "zh": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "iw": "he",
    # ISO 639-3 / 639-2 codes (Apertium speaks these)
    "eng": "en",
    "spa": "es",
    "cat": "ca",
    "fra": "fr",
    "fre": "fr",
    "por": "pt",
    "deu": "de",
    "ger": "de",
    "ita": "it",
    "arg": "an",
    "baq": "eu",
    "eus": "eu",
    "glg": "gl",
    "isl": "is",
    "ice": "is",
    "mkd": "mk",
    "mac": "mk",
    "oci": "oc",
    "ron": "ro",
    "rum": "ro",
    "rus": "ru",
    "ukr": "uk",
    "dan": "da",
    "nob": "nb",
    "nor": "nb",
    "nno": "nn",
    "swe": "sv",
    "epo": "eo",
}

_BY_LOWER: Final[dict[str, str]] = {code.lower(): code for code in LANGUAGES}

AUTO: Final = "auto"


def normalize(code: str) -> str | None:
    """Return the canonical spelling of `code`, or None when it is not a language we know."""
    key = code.strip().replace("_", "-").lower()
    return _BY_LOWER.get(key) or _ALIASES.get(key)


def require(code: str, field: str) -> str:
    """Canonical code for a request field, or a 422 naming the field and the bad value."""
    canonical = normalize(code) if isinstance(code, str) else None
    if canonical is None:
        raise ValidationFailed(
            f"{field}: unknown language code {code!r}",
            code="unknown_language",
            details={"field": field, "value": code},
        )
    return canonical


def base_language(code: str) -> str:
    """The language without script/region: `pt-BR` -> `pt`, `zh-Hans` -> `zh`."""
    return code.split("-", 1)[0]


def same_language(a: str, b: str) -> bool:
    """True when text in `a` needs no translation for a reader of `b`.

    Regional variants of one language count as the same (a Brazilian reads European
    Portuguese); the two Chinese scripts do not, since readers of one often cannot read the other.
    """
    if a == b:
        return True
    if base_language(a) == "zh" or base_language(b) == "zh":
        return False
    return base_language(a) == base_language(b)


def name(code: str) -> str:
    return LANGUAGES.get(code, code)


def _letters(ch: str) -> str:
    """A regex class of what `normalize` reads as `ch`: either case, `_` for `-`, and the
    Kelvin sign, whose lower case is `k`."""
    if ch == "-":
        return "[-_]"
    if not ch.isalpha():
        return ch
    extra = "\u212a" if ch.lower() == "k" else ""
    return f"[{ch.lower()}{ch.upper()}{extra}]"


def code_pattern(*extra: str, blank: bool = False, among: Collection[str] | None = None) -> str:
    """A regular expression matching exactly the strings `normalize` (and `require`) accept,
    plus `extra` spellings read the same way (e.g. `auto`), and white space alone if `blank`:
    what the OpenAPI document states. `among`: only the spellings of these canonical codes."""
    known = {**_BY_LOWER, **_ALIASES}
    if among is not None:
        known = {spelling: code for spelling, code in known.items() if code in among}
    spellings = sorted({*known, *extra}, key=lambda c: (-len(c), c))
    choices = "|".join("".join(_letters(ch) for ch in code) for code in spellings)
    return rf"^\s*(?:{choices}){'?' if blank else ''}\s*$"
