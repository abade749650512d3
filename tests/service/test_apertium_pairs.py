"""The wider offline engine (issue 22): the checked Debian pairs, installed and reachable."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.settings import ProviderSettings
from service.translation.providers.apertium import ApertiumProvider, discover_modes, find_route
from service.translation.providers.base import TranslationRequest

ROOT = Path(__file__).resolve().parents[2]
CHECK = json.loads((ROOT / "bench" / "apertium_pairs.json").read_text(encoding="utf-8"))
ACCEPTED = {name for name, entry in CHECK["packages"].items() if entry["verdict"] == "in"}
# The four pairs the engine had before issue 22, installed everywhere since.
EARLIER = {"apertium-eng-spa", "apertium-eng-cat", "apertium-fr-es", "apertium-es-pt"}
MODES_DIR = ProviderSettings().apertium_modes_dir
needs_pairs = pytest.mark.skipif(
    not (shutil.which("lt-proc") and (MODES_DIR / "spa-cat.mode").exists()),
    reason="the issue-22 Apertium pairs are not installed (make test installs them)",
)
pytestmark = pytest.mark.apertium


def packages_in(path: str) -> set[str]:
    return set(re.findall(r"\bapertium-[a-z]+-[a-z]+\b", (ROOT / path).read_text()))


def test_every_checked_pair_has_a_verdict_with_its_reason_and_sample() -> None:
    for name, entry in CHECK["packages"].items():
        assert entry["verdict"] in {"in", "out", "not checked"}, name
        assert entry["reason"], name
        for direction in entry["directions"]:
            assert len(direction["output"]) == len(CHECK["samples"][direction["sample"]]), name
        if entry["verdict"] == "in":
            assert entry["directions"], f"{name} is installed without a checked sample"


@pytest.mark.parametrize(
    "path",
    [
        ".ci/run",
        "scripts/ensure-system-packages.sh",
        ".github/workflows/ci.yml",
        "service/Dockerfile",
    ],
)
def test_installers_install_exactly_the_accepted_pairs(path: str) -> None:
    assert packages_in(path) == ACCEPTED | EARLIER


def test_readme_names_every_pair_left_out() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, entry in CHECK["packages"].items():
        if entry["verdict"] == "out":
            assert f"`{name}`" in readme, name


def test_catalan_is_a_pivot_when_spanish_has_no_pair(tmp_path: Path) -> None:
    for name in ("oc-ca", "cat-eng", "spa-eng", "eng-spa"):
        (tmp_path / f"{name}.mode").write_text("true $1 $2\n")
    route = find_route(discover_modes(tmp_path), "oc", "en")
    assert route is not None and [mode.name for mode in route] == ["oc-ca", "cat-eng"]


@pytest.fixture
async def apertium() -> AsyncIterator[ApertiumProvider]:
    provider = ApertiumProvider(ProviderSettings(apertium_pool_size=1))
    yield provider
    await provider.aclose()


@needs_pairs
async def test_fifteen_languages_are_served_offline(apertium: ApertiumProvider) -> None:
    languages = apertium.languages()
    assert len(languages) >= 15, sorted(languages)
    # Every Romance language reaches English and back through the pivots.
    for code in ("ca", "gl", "it", "oc", "an", "pt", "fr"):
        assert apertium.supports(code, "en") and apertium.supports("en", code), code
    for code in ("ro", "eu"):  # one-way pairs: read, not written
        assert apertium.supports(code, "en") and not apertium.supports("en", code), code


@needs_pairs
@pytest.mark.parametrize(
    ("source", "target", "text", "expected", "pivot"),
    [
        ("gl", "en", "Grazas, a min paréceme ben.", "thank", ("gl", "es", "en")),
        ("it", "es", "Qualcuno può rivedere la mia pull request?", "alguien puede", ()),
        ("es", "ca", "Gracias, a mí me va bien.", "gràcies", ()),
        ("sv", "da", "Kan någon granska min pull request?", "kan nogen", ()),
        ("nb", "nn", "Hvor finner jeg utgivelsesnotatene?", "kvar finn eg", ()),
    ],
)
async def test_new_pairs_translate_chat_lines(
    apertium: ApertiumProvider,
    source: str,
    target: str,
    text: str,
    expected: str,
    pivot: tuple[str, ...],
) -> None:
    result = await apertium.translate(
        TranslationRequest(texts=(text,), source=source, target=target)
    )
    assert expected in result.texts[0].lower(), result.texts
    assert result.pivot == pivot
