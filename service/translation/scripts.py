"""What a text's writing system alone says about its language.

Statistical detectors weigh n-grams; on a line of one or two words they can let a look-alike
win although the letters themselves rule it out: Ukrainian "нової" scored as Macedonian,
which has no "ї"; a Chinese line with no Simplified-only character labelled zh-Hans; Japanese
kanji scored as Chinese. The writing system is hard evidence, so it narrows the choice before
any statistics:

- a script used by one language here decides it (Hangul: Korean; kana: Japanese; Greek,
  Hebrew, Thai, Devanagari, Arabic);
- Cyrillic text goes to the languages whose alphabet has every letter of it (і ї є ґ only
  Ukrainian, ѓ ќ ѕ љ њ џ ј only Macedonian, ы э ё only Russian, ъ Russian or Bulgarian);
- Han characters without kana are Chinese (Japanese when a kanji exists only in Japanese's
  simplified forms, such as 関 or 駅), Traditional when some character exists only in
  Traditional Chinese (Big5 has it, GB 2312 not), Simplified otherwise.

Only the script most of the letters are in counts, so a name in another script does not move
a line. Latin-script alphabets overlap too much to rule a language out: `foreign_letters`
only counts the letters a language lacks, as evidence against it.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Final

# Unicode character-name prefix -> the only language here written in that script.
_SINGLE_LANGUAGE_SCRIPTS: Final[dict[str, str]] = {
    "HANGUL": "ko",
    "HIRAGANA": "ja",
    "KATAKANA": "ja",
    "GREEK": "el",
    "HEBREW": "he",
    "THAI": "th",
    "DEVANAGARI": "hi",
    "ARABIC": "ar",
}
_COMMON_CYRILLIC: Final = "абвгдежзиклмнопрстуфхцчш"
# Each Cyrillic alphabet here, lower case, beyond the letters all four share.
CYRILLIC_ALPHABETS: Final[dict[str, frozenset[str]]] = {
    "ru": frozenset(_COMMON_CYRILLIC + "ёйщъыьэюя"),
    "uk": frozenset(_COMMON_CYRILLIC + "ґєіїйщьюя"),
    "bg": frozenset(_COMMON_CYRILLIC + "йщъьюя"),
    "mk": frozenset(_COMMON_CYRILLIC + "ѓѕјљњќџ"),
}
CHINESE: Final = frozenset({"zh-Hans", "zh-Hant"})


@functools.lru_cache(maxsize=8192)
def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    if name.startswith("CJK") and "IDEOGRAPH" in name:
        return "HAN"
    return name.split(" ", 1)[0]


def _encodes(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def languages_of_script(text: str) -> frozenset[str] | None:
    """The languages `text`'s main script allows, or None when the script says nothing
    (Latin, no letters, or a script no language here is written in)."""
    if text.isascii():
        return None  # the common case, answered without looking at each character
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return None
    counts: dict[str, int] = {}
    for char in letters:
        script = _script(char)
        counts[script] = counts.get(script, 0) + 1
    # Kana and kanji together are Japanese: kana in the text at all decides it.
    if counts.get("HIRAGANA") or counts.get("KATAKANA"):
        return frozenset({"ja"})
    main = max(counts, key=lambda script: counts[script])
    if main in _SINGLE_LANGUAGE_SCRIPTS:
        return frozenset({_SINGLE_LANGUAGE_SCRIPTS[main]})
    if main == "CYRILLIC":
        used = {char.lower() for char in letters if _script(char) == "CYRILLIC"}
        fitting = frozenset(
            code for code, alphabet in CYRILLIC_ALPHABETS.items() if used <= alphabet
        )
        return fitting or None
    if main == "HAN":
        return frozenset({_han_language([char for char in letters if _script(char) == "HAN"])})
    return None


def chinese_script(text: str) -> str:
    """zh-Hant when `text` has more Traditional-only than Simplified-only characters.

    GB 2312 has the Simplified forms, Big5 the Traditional ones; characters in both (我, 你,
    是) are the same in either script and say nothing.
    """
    han = [char for char in text if _script(char) == "HAN"]
    traditional = sum(1 for c in han if _encodes(c, "big5") and not _encodes(c, "gb2312"))
    simplified = sum(1 for c in han if _encodes(c, "gb2312") and not _encodes(c, "big5"))
    return "zh-Hant" if traditional > simplified else "zh-Hans"


def _han_language(han: list[str]) -> str:
    japanese_only = [c for c in han if not _encodes(c, "gb2312") and not _encodes(c, "big5")]
    if japanese_only and all(_encodes(c, "shift_jis") for c in japanese_only):
        return "ja"  # a kanji in neither Chinese script's form: 関, 駅, 気
    return chinese_script("".join(han))


# The letters beyond a-z of each Latin-script language here (lower case). A letter outside a
# language's alphabet makes the language unlikely, not impossible: names and loanwords travel
# ("café", "Zürich"), so `foreign_letters` counts them and the detector weighs the count.
LATIN_ALPHABETS: Final[dict[str, str]] = {
    "an": "áéíñóúü",
    "ast": "áéíñóúü",
    "ca": "àçéèíïòóúü",
    "cs": "áčďéěíňóřšťúůýž",
    "da": "æøåé",
    "de": "äöüß",
    "en": "",
    "eo": "ĉĝĥĵŝŭ",
    "es": "áéíñóúü",
    "et": "äöõüšž",
    "eu": "ñü",
    "fi": "äöåšž",
    "fr": "àâæçéèêëîïôœùûüÿ",
    "gl": "áéíñóúü",
    "hu": "áéíóöőúüű",
    "id": "",
    "is": "áðéíóúýþæö",
    "it": "àèéìíîòóùú",
    "lt": "ąčęėįšųūž",
    "lv": "āčēģīķļņšūž",
    "nb": "æøåéèêóòô",
    "nl": "éëïöüáèóúâ",
    "nn": "æøåéèêóòô",
    "oc": "àáçèéíïòóúü",
    "pl": "ąćęłńóśźż",
    "pt": "áâãàçéêíóôõú",
    "pt-BR": "áâãàçéêíóôõú",
    "ro": "ăâîșțşţ",
    "sk": "áäčďéíĺľňóôŕšťúýž",
    "sl": "čšžćđ",
    "sv": "åäöé",
    "tr": "âçğıîöşü",
    "vi": "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ",
}


def foreign_letters(text: str) -> dict[str, int]:
    """Per Latin-script language, how many distinct letters of `text` its alphabet lacks
    (languages lacking none are left out)."""
    if text.isascii():
        return {}
    letters = {
        char
        for char in unicodedata.normalize("NFC", text.lower())
        if char.isalpha() and not char.isascii() and _script(char) == "LATIN"
    }
    if not letters:
        return {}
    counts = {code: len(letters - set(alphabet)) for code, alphabet in LATIN_ALPHABETS.items()}
    return {code: count for code, count in counts.items() if count}
