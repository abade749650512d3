"""Shared plumbing of the HTTP providers: one attempt per call, errors classified, keys redacted."""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from service.outbound import (
    OutboundClient,
    OutboundError,
    OutboundInvalidURL,
    OutboundResponse,
    OutboundTimeout,
)
from service.translation.providers.base import (
    ProviderError,
    RequestRejected,
    TerminalProviderError,
    TransientProviderError,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

# Anthropic's "overloaded" status; DeepL uses it too.
OVERLOADED: Final = 529
# How long a provider stays parked after an exhausted quota or spend limit: retrying sooner
# only burns requests, and an operator has to act anyway.
QUOTA_PARKING_SECONDS: Final = 3600.0
# Upper bound on a server-supplied Retry-After, so one odd header cannot park a provider for days.
MAX_RETRY_AFTER: Final = 3600.0

_KEY_PATTERNS: Final = (
    re.compile(r"\bsk-[A-Za-z0-9_*\-]{8,}"),  # OpenAI echoes (masked) keys in 401 messages
    re.compile(r"([?&]key=)[^&\s\"']+"),  # Google's key query parameter inside a URL
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secrets and anything that looks like an API key masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or HTTP-date) or OpenAI's `retry-after-ms`."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return _clamp(float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return _clamp(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return _clamp(when.timestamp() - (time.time() if now is None else now))


def _clamp(seconds: float) -> float | None:
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def classify_status(provider: str, response: OutboundResponse, message: str) -> ProviderError:
    """The generic mapping of an error status; providers handle their special cases first.

    `x-should-retry: true|false` (sent by OpenAI and Anthropic, obeyed by their SDKs) overrides
    the status: `false` means this request would fail again, so it goes to the next provider
    at once; `true` means a retry will likely succeed, whatever the status.
    """
    status = response.status_code
    if status in (401, 402, 403):
        return TerminalProviderError(provider, message, status=status)
    should_retry = response.headers.get("x-should-retry", "").strip().lower()
    if should_retry == "false":
        return RequestRejected(provider, message, status=status)
    if should_retry == "true" or status in (408, 425, 429, OVERLOADED) or status >= 500:
        return TransientProviderError(
            provider, message, status=status, retry_after=retry_after(response.headers)
        )
    return RequestRejected(provider, message, status=status)


async def send(
    client: OutboundClient,
    provider: str,
    method: str,
    url: str,
    *,
    request_timeout: float,
    secrets: Sequence[str] = (),
    json: Any = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> OutboundResponse:
    """One HTTP attempt; a request without a reply becomes a `ProviderError`.

    The client's exception is not chained: its message or context may carry a URL with a key.
    """
    try:
        return await client.request(
            method, url, json=json, params=params, headers=headers, timeout=request_timeout
        )
    except OutboundTimeout:
        raise TransientProviderError(
            provider, f"timed out after {request_timeout:g}s", timeout=True
        ) from None
    except OutboundInvalidURL as exc:
        message = f"misconfigured base URL: {redact(str(exc), secrets)}"
        raise TerminalProviderError(provider, message) from None
    except OutboundError as exc:
        raise TransientProviderError(provider, redact(str(exc), secrets)) from None


async def optional_json(
    client: OutboundClient,
    provider: str,
    url: str,
    *,
    what: str,
    request_timeout: float,
    secrets: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> Any:
    """GET information a provider can do without (its language list, existing glossaries):
    the decoded JSON of a 200 reply, or None, with a warning naming `what`, on anything else."""
    try:
        response = await send(
            client,
            provider,
            "GET",
            url,
            headers=headers,
            request_timeout=request_timeout,
            secrets=secrets,
        )
    except ProviderError as exc:
        log.warning("%s: could not get %s: %s", provider, what, exc)
        return None
    data = error_json(response) if response.status_code == 200 else None
    if data is None:
        log.warning("%s: could not get %s (HTTP %s)", provider, what, response.status_code)
    return data


def json_body(provider: str, response: OutboundResponse) -> Any:
    """The decoded JSON of a response; an undecodable body is a provider glitch (transient)."""
    try:
        return response.json()
    except ValueError:
        raise TransientProviderError(
            provider,
            f"HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from None


def error_json(response: OutboundResponse) -> Any:
    """The decoded body of an error response, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def malformed(provider: str, what: str) -> TransientProviderError:
    return TransientProviderError(provider, f"malformed reply: {what}")


def string_list(provider: str, value: Any, expected: int, what: str) -> list[str]:
    """`value` as a list of exactly `expected` strings, or a malformed-reply error."""
    if not isinstance(value, list) or len(value) != expected:
        count = len(value) if isinstance(value, list) else type(value).__name__
        raise malformed(provider, f"{what}: expected {expected} items, got {count}")
    if not all(isinstance(item, str) for item in value):
        raise malformed(provider, f"{what}: non-string item")
    return list(value)


def chunks(
    items: Sequence[T], *, max_items: int, max_size: int, size: Callable[[T], int]
) -> list[list[T]]:
    """Split `items` in order into runs of at most `max_items` whose sizes sum to <= `max_size`.

    A single item larger than `max_size` still gets a chunk of its own; the caller decides.
    """
    result: list[list[T]] = []
    current: list[T] = []
    current_size = 0
    for item in items:
        item_size = size(item)
        if current and (len(current) >= max_items or current_size + item_size > max_size):
            result.append(current)
            current, current_size = [], 0
        current.append(item)
        current_size += item_size
    if current:
        result.append(current)
    return result
