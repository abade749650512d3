"""The interface every translation provider implements, and the errors it raises.

Contract with the engine:
- `translate()` receives a batch of texts already in the provider's source language (never
  "auto") and returns one translation per text, in order.
- Texts may contain markup sentinels `⟦0⟧`, `⟦1⟧`, ... (see `service.translation.markup`).
  A provider must give them back unchanged; how it protects them on the wire is its own
  business (DeepL xml tags, Google html spans, LLM instructions, Apertium superblanks).
  The engine verifies them and falls back to the next provider when one is lost.
- Failures are `TransientProviderError` (retry with backoff, honour `retry_after`, then fall
  back) or `TerminalProviderError` (bad key, quota exhausted: no retry, provider marked
  unavailable until `unavailable_for` passes).
- Language codes are the canonical codes of `service.translation.languages`.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Tier(enum.IntEnum):
    """Quality tier of a provider; the router's strategies trade it against cost."""

    ECONOMY = 1
    BALANCED = 2
    PREMIUM = 3


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """A previous message of the conversation, given to providers that can use context."""

    text: str
    author: str | None = None


@dataclass(frozen=True, slots=True)
class GlossaryEntry:
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class TranslationRequest:
    texts: tuple[str, ...]
    source: str
    target: str
    formality: str | None = None  # "more" | "less" | None
    context: tuple[ContextMessage, ...] = ()
    glossary: tuple[GlossaryEntry, ...] = ()
    # Which glossaries the terms come from (stable across their edits) and their version:
    # a provider that stores glossaries on the account (DeepL) replaces older versions.
    glossary_scope: str = ""
    glossary_version: int = 0

    @property
    def characters(self) -> int:
        return sum(len(t) for t in self.texts)


@dataclass(frozen=True, slots=True)
class TranslationResult:
    texts: tuple[str, ...]
    model: str | None = None
    # Characters billed by the provider (defaults to the request's characters).
    characters: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    # Languages the text went through when there was no direct pair, e.g. ("fr", "es", "en").
    pivot: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Detection:
    language: str
    confidence: float  # 0..1


@dataclass(frozen=True, slots=True)
class Capabilities:
    detect: bool = False
    formality: bool = False
    context: bool = False
    glossary: bool = False
    max_batch: int = 50
    # Upper bound on characters per call; the engine splits larger batches.
    max_characters: int = 100_000


class ProviderError(Exception):
    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class TransientProviderError(ProviderError):
    """Rate limited, overloaded, 5xx or timed out: worth retrying, then falling back."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        timeout: bool = False,
    ) -> None:
        super().__init__(provider, message, status=status)
        self.retry_after = retry_after
        self.timeout = timeout


class TerminalProviderError(ProviderError):
    """Bad credentials, exhausted quota or spend limit: no retry; the provider is parked."""

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        unavailable_for: float = 300.0,
    ) -> None:
        super().__init__(provider, message, status=status)
        self.unavailable_for = unavailable_for


class RequestRejected(ProviderError):
    """The provider refused this particular request (e.g. 400/413): another provider may not."""


@dataclass
class ProviderInfo:
    name: str
    tier: Tier
    # Price per million characters (MT engines) in USD; LLMs price tokens instead.
    price_per_million_chars: Decimal = Decimal(0)
    price_per_million_input_tokens: Decimal = Decimal(0)
    price_per_million_output_tokens: Decimal = Decimal(0)
    capabilities: Capabilities = field(default_factory=Capabilities)


class Provider(abc.ABC):
    """A translation engine. Instances are long-lived and shared by concurrent requests."""

    info: ProviderInfo
    # Seconds one call may take; None: the router's (UTP_PROVIDER_TIMEOUT_SECONDS). LLMs
    # answer a long message in tens of seconds, where MT engines take one or two.
    call_timeout: float | None = None

    @property
    def name(self) -> str:
        return self.info.name

    @abc.abstractmethod
    async def translate(self, request: TranslationRequest) -> TranslationResult:
        """Translate `request.texts`; raise a `ProviderError` subclass on failure."""

    async def detect(self, text: str) -> list[Detection]:
        """Detect the language of `text`; only called when `info.capabilities.detect`."""
        raise TerminalProviderError(self.name, "language detection is not supported")

    @abc.abstractmethod
    def supports(self, source: str, target: str) -> bool:
        """Whether this provider can translate from `source` to `target` (canonical codes)."""

    @abc.abstractmethod
    def languages(self) -> frozenset[str]:
        """Canonical codes this provider can translate from or into."""

    def estimate_cost(self, characters: int) -> Decimal:
        """Expected cost in USD of translating `characters` characters, before the call."""
        if self.info.price_per_million_chars:
            return self.info.price_per_million_chars * characters / Decimal(1_000_000)
        # LLMs: roughly 4 characters per token each way, plus a fixed prompt overhead.
        tokens = Decimal(characters) / 4 + 150
        return (
            tokens * self.info.price_per_million_input_tokens
            + tokens * self.info.price_per_million_output_tokens
        ) / Decimal(1_000_000)

    async def start(self) -> None:
        """Acquire resources (processes, connection pools); called once at app start-up."""

    async def aclose(self) -> None:
        """Release what `start` acquired."""
