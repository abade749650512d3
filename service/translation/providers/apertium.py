"""Apertium, the embedded offline engine: installed modes run as warm pipelines, with pivots.

Modes are discovered in `apertium_modes_dir` (`eng-spa.mode`, `fr-es.mode`, `es-pt_BR.mode`,
...). Their ISO 639-3 or 639-1 codes map onto canonical codes; a variant suffix either names
a canonical code of its own (`pt_BR` -> `pt-BR`) or is a dialect (`eng_US`, `cat_valencia`)
used only when the plain mode is missing. A pair with no mode of its own is translated
through Spanish, English and/or Catalan (fr -> es -> en) and the result says so in `pivot`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Final

from service.settings import ProviderSettings
from service.translation import languages as langs
from service.translation.providers.apertium_pipeline import (
    PipelineError,
    PipelinePool,
    PipelineTimeout,
    decode,
    encode,
    parse_mode,
)
from service.translation.providers.base import (
    Capabilities,
    Provider,
    ProviderInfo,
    RequestRejected,
    TerminalProviderError,
    Tier,
    TransientProviderError,
    TranslationRequest,
    TranslationResult,
)

log = logging.getLogger(__name__)

# Languages a translation may pass through when no direct mode exists, in order of preference:
# Spanish and English have the most pairs; Catalan joins Occitan and Spanish to English.
PIVOTS: Final = ("es", "en", "ca")
MAX_HOPS: Final = 3


@dataclass(frozen=True, slots=True)
class Mode:
    """An installed Apertium translation direction."""

    name: str  # file name without `.mode`, e.g. "eng-spa" or "es-pt_BR"
    path: Path
    source: str  # canonical codes
    target: str
    commands: tuple[tuple[str, ...], ...]
    dialect: bool = False  # a regional variant, used only when the plain mode is missing


def _canonical(apertium_code: str) -> tuple[str, bool] | None:
    """Canonical code of a mode's side, and whether it is a dialect of that language."""
    language, _, variant = apertium_code.partition("_")
    base = langs.normalize(language)
    if base is None:
        return None
    if not variant:
        return base, False
    regional = langs.normalize(f"{base}-{variant}")
    if regional is not None and regional != base:
        return regional, False
    return base, True


def _mode_from_file(path: Path) -> Mode | None:
    sides = path.stem.split("-")
    if len(sides) != 2:  # e.g. "eco-fr-es": not a plain translation direction
        return None
    source, target = _canonical(sides[0]), _canonical(sides[1])
    if source is None or target is None or source[0] == target[0]:
        return None
    try:
        commands = parse_mode(path)
    except (OSError, ValueError) as error:
        log.warning("Apertium mode %s is unreadable: %s", path, error)
        return None
    missing = sorted({argv[0] for argv in commands if shutil.which(argv[0]) is None})
    if missing:
        log.warning("Apertium mode %s needs missing programs: %s", path.stem, ", ".join(missing))
        return None
    return Mode(
        name=path.stem,
        path=path,
        source=source[0],
        target=target[0],
        commands=tuple(tuple(argv) for argv in commands),
        dialect=source[1] or target[1],
    )


def discover_modes(modes_dir: Path) -> dict[tuple[str, str], Mode]:
    """The best installed mode for each (source, target) pair of canonical codes."""
    if not modes_dir.is_dir():
        return {}
    modes: dict[tuple[str, str], Mode] = {}
    for path in sorted(modes_dir.glob("*.mode")):
        mode = _mode_from_file(path)
        if mode is None:
            continue
        known = modes.get((mode.source, mode.target))
        if known is None or (known.dialect and not mode.dialect):
            modes[mode.source, mode.target] = mode
    return modes


def find_route(
    modes: dict[tuple[str, str], Mode], source: str, target: str
) -> tuple[Mode, ...] | None:
    """The shortest chain of modes from `source` to `target`, pivoting only through `PIVOTS`.

    A regional code falls back to its language (`pt-BR` text is read by the `pt` modes), but
    an exact target wins over that fallback at the same number of hops.
    """
    sources = list(dict.fromkeys((source, langs.base_language(source))))
    targets = list(dict.fromkeys((target, langs.base_language(target))))
    for hops in range(1, MAX_HOPS + 1):
        for goal in targets:
            for start in sources:
                if start == goal:
                    continue
                for via in itertools.permutations(PIVOTS, hops - 1):
                    path = (start, *via, goal)
                    if len(set(path)) != len(path):
                        continue
                    chain = [modes.get(step) for step in itertools.pairwise(path)]
                    if all(chain):
                        return tuple(m for m in chain if m is not None)
    return None


class ApertiumProvider(Provider):
    """The installed Apertium modes, kept warm in small per-mode pools of pipelines."""

    info = ProviderInfo(
        name="apertium",
        tier=Tier.ECONOMY,
        price_per_million_chars=Decimal(0),
        capabilities=Capabilities(max_batch=50, max_characters=100_000),
    )

    def __init__(self, settings: ProviderSettings) -> None:
        self._settings = settings
        self.modes = discover_modes(settings.apertium_modes_dir)
        self._pools: dict[str, PipelinePool] = {}
        self._routes: dict[tuple[str, str], tuple[Mode, ...] | None] = {}
        self._languages = frozenset(code for pair in self.modes for code in pair)

    @classmethod
    def enabled(cls, settings: ProviderSettings) -> bool:
        """Switched on, and at least one mode is installed with all of its programs."""
        return settings.apertium_enabled and bool(discover_modes(settings.apertium_modes_dir))

    def languages(self) -> frozenset[str]:
        return self._languages

    def supports(self, source: str, target: str) -> bool:
        return self.route(source, target) is not None

    def route(self, source: str, target: str) -> tuple[Mode, ...] | None:
        """The modes a translation from `source` to `target` goes through, or None."""
        key = (source, target)
        if key not in self._routes:
            self._routes[key] = (
                None
                if langs.same_language(source, target)
                else find_route(self.modes, source, target)
            )
        return self._routes[key]

    def pool(self, mode: Mode) -> PipelinePool:
        pool = self._pools.get(mode.name)
        if pool is None:
            pool = PipelinePool(
                mode.name,
                mode.commands,
                size=self._settings.apertium_pool_size,
                timeout=self._settings.provider_timeout_seconds,
            )
            self._pools[mode.name] = pool
        return pool

    async def translate(self, request: TranslationRequest) -> TranslationResult:
        route = self.route(request.source, request.target)
        if route is None:
            raise RequestRejected(
                self.name,
                f"no Apertium pair or pivot for {request.source} -> {request.target}",
                status=400,
            )
        # Blank texts need no engine; the others keep their outer whitespace.
        todo = [i for i, text in enumerate(request.texts) if text.strip()]
        current = [request.texts[i].strip() for i in todo]
        try:
            for mode in route:
                translated = await self.pool(mode).translate([encode(text) for text in current])
                current = [decode(text).strip() for text in translated]
        except PipelineTimeout as error:
            raise TransientProviderError(self.name, str(error), timeout=True) from error
        except PipelineError as error:
            raise TransientProviderError(self.name, str(error)) from error
        except OSError as error:  # a program could not be started at all
            raise TerminalProviderError(self.name, f"cannot run Apertium: {error}") from error
        texts = list(request.texts)
        for index, text in zip(todo, current, strict=True):
            original = request.texts[index]
            lead = original[: len(original) - len(original.lstrip())]
            trail = original[len(original.rstrip()) :]
            texts[index] = f"{lead}{text}{trail}"
        return TranslationResult(
            texts=tuple(texts),
            model="+".join(mode.name for mode in route),
            characters=request.characters,
            pivot=(route[0].source, *(mode.target for mode in route)) if len(route) > 1 else (),
        )

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(pool.aclose() for pool in pools))
