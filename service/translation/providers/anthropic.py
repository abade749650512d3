"""Anthropic Messages API: the same JSON prompt as OpenAI, spend limits treated as terminal.

Checked against the `anthropic` Python SDK 2.17 (API version 2026-10-21): the request has no
`temperature` (Claude 5 models refuse sampling parameters other than the defaults), and a 429
whose `error.details.error_code` names a spend limit is the account's limit, not a rate limit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from service.outbound import OutboundClient, OutboundResponse
from service.settings import ProviderSettings
from service.translation.providers import http
from service.translation.providers.base import ProviderError, TerminalProviderError, Tier
from service.translation.providers.llm import (
    REASONING_TOKENS,
    Completion,
    LLMProvider,
    ModelPrice,
    Prompt,
    int_field,
)

API_VERSION: Final = "2026-10-21"
D = Decimal
# USD per million input / output tokens (anthropic.com/pricing).
PRICES: Final = {
    "claude-opus-5-5": ModelPrice(D("4.00"), D("20.00"), Tier.PREMIUM),
    "claude-opus-5": ModelPrice(D("5.00"), D("25.00"), Tier.PREMIUM),
    "claude-sonnet-5-5": ModelPrice(D("2.00"), D("10.00"), Tier.PREMIUM),
    "claude-sonnet-5": ModelPrice(D("2.00"), D("10.00"), Tier.PREMIUM),
    "claude-fable-5-1": ModelPrice(D("10.00"), D("50.00"), Tier.PREMIUM),
    "claude-opus-4-5": ModelPrice(D("5.00"), D("25.00"), Tier.PREMIUM),
    "claude-opus-4-1": ModelPrice(D("15.00"), D("75.00"), Tier.PREMIUM),
    "claude-opus-4": ModelPrice(D("15.00"), D("75.00"), Tier.PREMIUM),
    "claude-sonnet-4-5": ModelPrice(D("3.00"), D("15.00"), Tier.PREMIUM),
    "claude-sonnet-4": ModelPrice(D("3.00"), D("15.00"), Tier.PREMIUM),
    "claude-3-7-sonnet": ModelPrice(D("3.00"), D("15.00"), Tier.PREMIUM),
    "claude-haiku-4-5": ModelPrice(D("1.00"), D("5.00"), Tier.BALANCED),
    "claude-3-5-haiku": ModelPrice(D("0.80"), D("4.00"), Tier.BALANCED),
}
DEFAULT_PRICE: Final = ModelPrice(D("3.00"), D("15.00"), Tier.PREMIUM)
# 400 invalid_request_error messages that mean the account, not the request, is the problem.
_SPEND_LIMIT_HINTS: Final = ("credit balance", "usage limit", "spend limit", "billing")
# `error.details.error_code` of 429s that are a spend limit: waiting seconds does not help.
SPEND_LIMIT_CODES: Final = frozenset(
    {
        "enforced_spend_limit_reached",
        "contract_spend_limit_reached",
        "linked_organization_spend_limit_reached",
    }
)


class AnthropicProvider(LLMProvider):
    prices = PRICES
    default_price = DEFAULT_PRICE

    def __init__(self, settings: ProviderSettings, client: OutboundClient) -> None:
        super().__init__(
            "anthropic", settings.anthropic_model, call_timeout=settings.llm_timeout_seconds
        )
        self._key = settings.anthropic_api_key.get()
        self._client = client
        self.base_url = settings.anthropic_base_url.rstrip("/")

    @classmethod
    def enabled(cls, settings: ProviderSettings) -> bool:
        return bool(settings.anthropic_api_key)

    def reasoning_tokens(self) -> int:
        # Current models think adaptively by default, within max_tokens; a cap costs nothing.
        return REASONING_TOKENS

    async def complete(self, prompt: Prompt, max_tokens: int) -> Completion:
        response = await http.send(
            self._client,
            self.name,
            "POST",
            f"{self.base_url}/v1/messages",
            json={
                "model": self.model,
                "max_tokens": max_tokens,
                "system": prompt.system,
                "messages": [{"role": "user", "content": prompt.user}],
            },
            headers={"x-api-key": self._key, "anthropic-version": API_VERSION},
            request_timeout=self.timeout,
            secrets=[self._key],
        )
        if response.status_code != 200:
            raise self._error(response)
        data = http.json_body(self.name, response)
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise http.malformed(self.name, "no content blocks")
        text = "".join(
            str(block.get("text", ""))
            for block in blocks
            if isinstance(block, dict) and block.get("type") == "text"
        )
        stop = data.get("stop_reason")
        usage = data.get("usage")
        model = data.get("model")
        return Completion(
            text=text,
            input_tokens=int_field(usage, "input_tokens")
            + int_field(usage, "cache_creation_input_tokens")
            + int_field(usage, "cache_read_input_tokens"),
            output_tokens=int_field(usage, "output_tokens"),
            model=model if isinstance(model, str) else self.model,
            incomplete=str(stop) if stop in ("max_tokens", "refusal") else None,
        )

    def _error(self, response: OutboundResponse) -> ProviderError:
        body = http.error_json(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        kind = str(error.get("type") or "")
        text = str(error.get("message") or "")
        details = error.get("details")
        code = details.get("error_code") if isinstance(details, dict) else None
        message = http.redact(f"HTTP {response.status_code} {code or kind}: {text}", [self._key])
        status = response.status_code
        if (
            kind == "billing_error"
            or code in SPEND_LIMIT_CODES
            or (status == 400 and any(hint in text.lower() for hint in _SPEND_LIMIT_HINTS))
        ):
            return TerminalProviderError(
                self.name, message, status=status, unavailable_for=http.QUOTA_PARKING_SECONDS
            )
        if status == 404:
            # An unknown model id: every request would fail the same way until config changes.
            return TerminalProviderError(self.name, message, status=status)
        return http.classify_status(self.name, response, message)
