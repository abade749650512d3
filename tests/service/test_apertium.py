"""The Apertium provider against the real engine: pairs, pivots, markup, warm pipelines."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.settings import ProviderSettings
from service.translation import markup
from service.translation.providers.apertium import ApertiumProvider, discover_modes, find_route
from service.translation.providers.apertium_pipeline import decode, encode, parse_mode
from service.translation.providers.base import (
    RequestRejected,
    TransientProviderError,
    TranslationRequest,
)

MODES_DIR = ProviderSettings().apertium_modes_dir
needs_apertium = pytest.mark.skipif(
    not (shutil.which("lt-proc") and (MODES_DIR / "eng-spa.mode").exists()),
    reason="Apertium with the eng-spa pair is not installed (make test installs it)",
)
pytestmark = pytest.mark.apertium


@pytest.fixture
async def apertium() -> AsyncIterator[ApertiumProvider]:
    provider = ApertiumProvider(ProviderSettings(apertium_pool_size=2))
    yield provider
    await provider.aclose()


async def translate(provider: ApertiumProvider, source: str, target: str, *texts: str) -> list[str]:
    result = await provider.translate(TranslationRequest(texts=texts, source=source, target=target))
    return list(result.texts)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- stream format (no engine needed) ---------------------------------------------------


def test_encode_escapes_reserved_characters_and_wraps_sentinels_as_superblanks() -> None:
    stream = encode("a^b $c @d e/f g\\h [i] <j> {k} ⟦0⟧ end")
    assert stream == r"a\^b \$c \@d e\/f g\\h \[i\] \<j\> \{k\} [⟦0⟧] end.[]"
    assert decode(stream) == "a^b $c @d e/f g\\h [i] <j> {k} ⟦0⟧ end"


def test_encode_keeps_line_breaks_and_runs_of_spaces() -> None:
    text = "first line\nsecond   line\n\nnew paragraph?"
    assert decode(encode(text)) == text


@needs_apertium
def test_mode_file_becomes_null_flush_commands_without_unknown_marks() -> None:
    commands = parse_mode(MODES_DIR / "eng-spa.mode")
    assert all(argv[1] == "-z" for argv in commands)
    generator = next(argv for argv in commands if argv[-1].endswith(".autogen.bin"))
    assert "-n" in generator  # what `apertium -u` passes as $1: unknown words left unmarked
    assert not any("$" in arg for argv in commands for arg in argv)


# --- discovery and routing --------------------------------------------------------------


def fake_modes(tmp_path: Path, *names: str) -> Path:
    """Mode files whose single program exists (`true`): enough for discovery and routing."""
    for name in names:
        (tmp_path / f"{name}.mode").write_text("true $1 $2\n")
    return tmp_path


def test_mode_names_map_to_canonical_codes(tmp_path: Path) -> None:
    modes = discover_modes(
        fake_modes(tmp_path, "eng-spa", "spa-eng", "spa-eng_US", "fr-es", "es-pt_BR", "eco-fr-es")
    )
    assert {pair: mode.name for pair, mode in modes.items()} == {
        ("en", "es"): "eng-spa",
        ("es", "en"): "spa-eng",  # the plain mode wins over its US dialect
        ("fr", "es"): "fr-es",
        ("es", "pt-BR"): "es-pt_BR",  # a region that is a language code of its own
    }


def test_dialect_mode_serves_when_it_is_the_only_one(tmp_path: Path) -> None:
    modes = discover_modes(fake_modes(tmp_path, "spa-eng_US", "eng-cat_valencia"))
    assert modes["es", "en"].name == "spa-eng_US"
    assert modes["en", "ca"].name == "eng-cat_valencia"


def test_routes_prefer_direct_pairs_then_pivot_through_spanish_or_english(tmp_path: Path) -> None:
    modes = discover_modes(
        fake_modes(tmp_path, "eng-spa", "spa-eng", "fr-es", "es-fr", "es-pt", "pt-es", "eng-cat")
    )

    def names(source: str, target: str) -> list[str] | None:
        route = find_route(modes, source, target)
        return None if route is None else [mode.name for mode in route]

    assert names("en", "es") == ["eng-spa"]
    assert names("fr", "en") == ["fr-es", "spa-eng"]
    assert names("en", "pt") == ["eng-spa", "es-pt"]
    assert names("en", "pt-BR") == ["eng-spa", "es-pt"]  # Portuguese serves a Brazilian reader
    assert names("pt-BR", "en") == ["pt-es", "spa-eng"]
    assert names("fr", "ca") == ["fr-es", "spa-eng", "eng-cat"]
    assert names("en", "de") is None
    assert names("ca", "en") is None  # no cat-eng installed here


@needs_apertium
async def test_installed_pairs_are_discovered(apertium: ApertiumProvider) -> None:
    assert {"en", "es"} <= apertium.languages()
    assert apertium.modes["en", "es"].name == "eng-spa"
    assert apertium.supports("en", "es") and apertium.supports("es", "en")
    assert not apertium.supports("en", "en")
    assert not apertium.supports("en", "ja")
    assert ApertiumProvider.enabled(ProviderSettings())
    assert not ApertiumProvider.enabled(ProviderSettings(apertium_enabled=False))


def test_not_enabled_without_modes(tmp_path: Path) -> None:
    assert not ApertiumProvider.enabled(ProviderSettings(apertium_modes_dir=tmp_path))
    assert not ApertiumProvider.enabled(ProviderSettings(apertium_modes_dir=tmp_path / "absent"))


# --- real translations --------------------------------------------------------------------


@needs_apertium
async def test_english_to_spanish_and_back(apertium: ApertiumProvider) -> None:
    [spanish] = await translate(apertium, "en", "es", "Good morning, how is the project going?")
    assert spanish.startswith("Buenos días")
    [english] = await translate(apertium, "es", "en", "Muchas gracias, nos vemos mañana.")
    assert english.startswith("Thank you very much")


@needs_apertium
async def test_unsupported_pair_is_rejected(apertium: ApertiumProvider) -> None:
    with pytest.raises(RequestRejected):
        await translate(apertium, "en", "ja", "hello")


@needs_apertium
async def test_french_to_english_pivots_through_spanish(apertium: ApertiumProvider) -> None:
    if ("fr", "es") not in apertium.modes:
        pytest.skip("the fr-es pair is not installed")
    result = await apertium.translate(
        TranslationRequest(texts=("Le chat est noir.",), source="fr", target="en")
    )
    assert result.texts == ("The cat is black.",)
    assert result.pivot == ("fr", "es", "en")
    assert result.model == "fr-es+spa-eng"


@needs_apertium
async def test_english_to_portuguese_pivots_through_spanish(apertium: ApertiumProvider) -> None:
    if ("es", "pt") not in apertium.modes:
        pytest.skip("the es-pt pair is not installed")
    result = await apertium.translate(
        TranslationRequest(texts=("The cat is black.",), source="en", target="pt")
    )
    assert result.texts == ("O gato é negro.",)
    assert result.pivot == ("en", "es", "pt")


@needs_apertium
async def test_direct_pair_reports_no_pivot(apertium: ApertiumProvider) -> None:
    result = await apertium.translate(
        TranslationRequest(texts=("The cat is black.",), source="en", target="es")
    )
    assert result.texts == ("El gato es negro.",)
    assert result.pivot == ()


@needs_apertium
async def test_markup_sentinels_and_reserved_characters_survive(apertium: ApertiumProvider) -> None:
    message = (
        "@all hey @maria, the build at https://ci.example.com/job/42 failed :sob: "
        "see `make test` and <https://x.io|the docs> 🎉 ok?"
    )
    protected = markup.protect(message)
    odd = "prices: 5$ or 4€ ^_^ a/b \\path [draft] <tag> {braces} @ the end"
    [translated, odd_out] = await translate(apertium, "en", "es", protected.text, odd)
    restored = markup.restore(translated, protected.tokens)
    assert restored is not None, translated
    for token in protected.tokens:
        assert token in restored
    for reserved in "^$@/\\[]<>{}":  # Apertium's own syntax, escaped on the way in
        assert odd_out.count(reserved) == odd.count(reserved), (reserved, odd_out)


@needs_apertium
async def test_sentinels_survive_a_pivot(apertium: ApertiumProvider) -> None:
    if ("fr", "es") not in apertium.modes:
        pytest.skip("the fr-es pair is not installed")
    [english] = await translate(apertium, "fr", "en", "⟦0⟧ Le chat ⟦1⟧ est noir ⟦2⟧")
    assert markup.sentinels_in(english) == [0, 1, 2]


@needs_apertium
async def test_unknown_words_are_not_marked(apertium: ApertiumProvider) -> None:
    [spanish] = await translate(apertium, "en", "es", "The blorfs zibbled the car")
    assert "blorfs" in spanish and "zibbled" in spanish
    assert "*" not in spanish and "#" not in spanish and "@" not in spanish
    # Asterisks the user typed (Rocket.Chat bold) are theirs to keep.
    [bold] = await translate(apertium, "en", "es", "this is *very* important")
    assert "*" in bold


@needs_apertium
async def test_batch_keeps_order_blank_texts_and_outer_whitespace(
    apertium: ApertiumProvider,
) -> None:
    texts = ("I have 1 red car", "", "  I have 2 red cars\n", "   ", "line one\n\nline two")
    out = await translate(apertium, "en", "es", *texts)
    assert out[0] == "Tengo 1 coche rojo"
    assert out[1] == ""
    assert out[2] == "  Tengo 2 coches rojos\n"
    assert out[3] == "   "
    assert "\n\n" in out[4]


# --- warm pipelines -----------------------------------------------------------------------


@needs_apertium
async def test_pipelines_start_lazily_and_stay_warm(apertium: ApertiumProvider) -> None:
    mode = apertium.modes["en", "es"]
    pool = apertium.pool(mode)
    assert all(not pipeline.pids for pipeline in pool.pipelines)  # nothing before first use

    await translate(apertium, "en", "es", "first")
    first, second = pool.pipelines
    pids = first.pids
    assert len(pids) == len(mode.commands)
    for _ in range(5):
        await translate(apertium, "en", "es", "again")
        assert first.pids == pids  # the same processes serve consecutive calls
    assert not second.pids  # no second pipeline while calls do not overlap
    assert all(alive(pid) for pid in pids)


@needs_apertium
async def test_concurrent_translations_are_all_correct_and_spread(
    apertium: ApertiumProvider,
) -> None:
    numbers = range(2, 62)
    results = await asyncio.gather(
        *(translate(apertium, "en", "es", f"I have {n} red cars") for n in numbers)
    )
    assert [r[0] for r in results] == [f"Tengo {n} coches rojos" for n in numbers]
    pool = apertium.pool(apertium.modes["en", "es"])
    assert all(pipeline.running for pipeline in pool.pipelines)  # both pool members used


@needs_apertium
@pytest.mark.parametrize("victim", [0, 3, -1], ids=["first", "middle", "last"])
@pytest.mark.parametrize("noticed", [True, False], ids=["before-use", "mid-request"])
async def test_killed_pipeline_process_is_restarted_transparently(
    apertium: ApertiumProvider, victim: int, noticed: bool
) -> None:
    await translate(apertium, "en", "es", "warm up")
    pipeline = apertium.pool(apertium.modes["en", "es"]).pipelines[0]
    old = pipeline.pids
    os.kill(old[victim], signal.SIGKILL)
    if noticed:  # let the event loop learn about the death before the next request
        await asyncio.sleep(0.05)

    assert await translate(apertium, "en", "es", "The cat is black.") == ["El gato es negro."]
    assert pipeline.pids and set(pipeline.pids).isdisjoint(old)
    await asyncio.sleep(0.05)
    assert not any(alive(pid) for pid in old)


@needs_apertium
async def test_cancelled_request_does_not_leak_into_the_next(apertium: ApertiumProvider) -> None:
    pool = apertium.pool(apertium.modes["en", "es"])
    await translate(apertium, "en", "es", "warm up")
    texts = [f"I have {n} red cars and the weather is nice today" for n in range(300)]
    task = asyncio.create_task(translate(apertium, "en", "es", *texts))
    await asyncio.sleep(0.002)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Whatever the cancelled request left in flight is discarded with its pipeline.
    assert await translate(apertium, "en", "es", "I have 3 red cars") == ["Tengo 3 coches rojos"]
    assert len(pool.pipelines) == 2


@needs_apertium
async def test_aclose_stops_every_process(apertium: ApertiumProvider) -> None:
    await translate(apertium, "en", "es", "hello")
    pids = apertium.pool(apertium.modes["en", "es"]).pipelines[0].pids
    await apertium.aclose()
    assert not any(alive(pid) for pid in pids)


# --- stuck and crashing pipelines (fake programs) ----------------------------------------


def fake_engine(tmp_path: Path, body: str) -> ProviderSettings:
    script = tmp_path / "engine.sh"
    script.write_text(f"#!/bin/bash\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    modes = tmp_path / "modes"
    modes.mkdir()
    (modes / "eng-spa.mode").write_text(f"'{script}' $1\n")
    return dataclasses.replace(
        ProviderSettings(),
        apertium_modes_dir=modes,
        apertium_pool_size=1,
        provider_timeout_seconds=0.5,
    )


async def test_stuck_pipeline_times_out_and_is_killed(tmp_path: Path) -> None:
    provider = ApertiumProvider(fake_engine(tmp_path, "exec sleep 60"))
    try:
        with pytest.raises(TransientProviderError) as caught:
            await translate(provider, "en", "es", "hello")
        assert caught.value.timeout
        pipeline = provider.pool(provider.modes["en", "es"]).pipelines[0]
        assert not pipeline.running  # killed; the next call starts a fresh one
    finally:
        await provider.aclose()


async def test_pipeline_that_keeps_dying_fails_transiently(tmp_path: Path) -> None:
    provider = ApertiumProvider(fake_engine(tmp_path, "exit 3"))
    try:
        with pytest.raises(TransientProviderError) as caught:
            await translate(provider, "en", "es", "hello")
        assert not caught.value.timeout
    finally:
        await provider.aclose()


async def test_pipeline_answering_garbage_is_not_trusted(tmp_path: Path) -> None:
    # Answers every chunk with a NUL-terminated line that lacks the request's marker.
    body = "while IFS= read -r -d '' chunk; do printf 'stale\\0'; done"
    provider = ApertiumProvider(fake_engine(tmp_path, body))
    try:
        with pytest.raises(TransientProviderError):
            await translate(provider, "en", "es", "hello")
    finally:
        await provider.aclose()
