"""OpenAI chat completions: JSON-mode replies, usage priced from a per-model table."""

from __future__ import annotations

import re
import urllib.parse
from decimal import Decimal
from typing import Any, Final

from service.outbound import OutboundClient, OutboundResponse
from service.settings import ProviderSettings
from service.translation.providers import http
from service.translation.providers.base import (
    ProviderError,
    RequestRejected,
    TerminalProviderError,
    Tier,
)
from service.translation.providers.llm import (
    REASONING_TOKENS,
    Completion,
    LLMProvider,
    ModelPrice,
    Prompt,
    int_field,
)

D = Decimal
# USD per million input / output tokens (openai.com/api/pricing).
PRICES: Final = {
    "gpt-5": ModelPrice(D("1.25"), D("10.00"), Tier.PREMIUM),
    "gpt-5-mini": ModelPrice(D("0.25"), D("2.00"), Tier.BALANCED),
    "gpt-5-nano": ModelPrice(D("0.05"), D("0.40"), Tier.ECONOMY),
    "gpt-4.1": ModelPrice(D("2.00"), D("8.00"), Tier.PREMIUM),
    "gpt-4.1-mini": ModelPrice(D("0.40"), D("1.60"), Tier.BALANCED),
    "gpt-4.1-nano": ModelPrice(D("0.10"), D("0.40"), Tier.ECONOMY),
    "gpt-4o": ModelPrice(D("2.50"), D("10.00"), Tier.PREMIUM),
    "gpt-4o-mini": ModelPrice(D("0.15"), D("0.60"), Tier.BALANCED),
    "o4-mini": ModelPrice(D("1.10"), D("4.40"), Tier.PREMIUM),
}
# An unknown model is priced like a large one, so budgets err on the safe side.
DEFAULT_PRICE: Final = ModelPrice(D("2.50"), D("10.00"), Tier.PREMIUM)
# A path segment like `v1` or `v1beta`: the base URL already names the API version.
_VERSION_SEGMENT: Final = re.compile(r"v\d+[a-z0-9]*")


def chat_completions_url(base_url: str) -> str:
    """Where chat completions live under `base_url`.

    The SDKs' convention, which every OpenAI-compatible server documents, puts the version in
    the base URL (`https://api.openai.com/v1`, `http://localhost:11434/v1` for Ollama,
    `http://localhost:8000/v1` for vLLM) and appends `/chat/completions`; a base URL with no
    version segment (this service's default, `https://api.openai.com`) gets `/v1` added.
    """
    base = base_url.rstrip("/")
    segments = urllib.parse.urlsplit(base).path.split("/")
    if any(_VERSION_SEGMENT.fullmatch(segment) for segment in segments):
        return f"{base}/chat/completions"
    return f"{base}/v1/chat/completions"


# Reasoning models: they reject `temperature`, think before answering (within
# max_completion_tokens) and take `reasoning_effort`; translating needs little of it.
_REASONING: Final = ("o1", "o3", "o4", "gpt-5", "gpt-6")
REASONING_EFFORT: Final = "low"


class OpenAIProvider(LLMProvider):
    prices = PRICES
    default_price = DEFAULT_PRICE

    def __init__(self, settings: ProviderSettings, client: OutboundClient) -> None:
        super().__init__("openai", settings.openai_model, call_timeout=settings.llm_timeout_seconds)
        self._key = settings.openai_api_key.get()
        self._client = client
        self._reasoning = self.model.startswith(_REASONING)
        self.base_url = settings.openai_base_url.rstrip("/")
        self.url = chat_completions_url(self.base_url)

    @classmethod
    def enabled(cls, settings: ProviderSettings) -> bool:
        return bool(settings.openai_api_key)

    def reasoning_tokens(self) -> int:
        return REASONING_TOKENS if self._reasoning else 0

    async def complete(self, prompt: Prompt, max_tokens: int) -> Completion:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "response_format": {"type": "json_object"},
            "max_completion_tokens": max_tokens,
        }
        if self._reasoning:
            body["reasoning_effort"] = REASONING_EFFORT
        else:
            body["temperature"] = 0
        response = await http.send(
            self._client,
            self.name,
            "POST",
            self.url,
            json=body,
            headers={"Authorization": f"Bearer {self._key}"},
            request_timeout=self.timeout,
            secrets=[self._key],
        )
        if response.status_code != 200:
            raise self._error(response)
        data = http.json_body(self.name, response)
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise http.malformed(self.name, "no choices")
        message = choices[0].get("message")
        message = message if isinstance(message, dict) else {}
        content = message.get("content")
        finish = choices[0].get("finish_reason")
        incomplete = None
        if finish in ("length", "content_filter"):
            incomplete = str(finish)
        elif message.get("refusal"):
            incomplete = "refusal"
        elif not isinstance(content, str):
            raise http.malformed(self.name, "message without content")
        usage = data.get("usage")
        model = data.get("model")
        return Completion(
            text=content if isinstance(content, str) else "",
            input_tokens=int_field(usage, "prompt_tokens"),
            output_tokens=int_field(usage, "completion_tokens"),
            model=model if isinstance(model, str) else self.model,
            incomplete=incomplete,
        )

    def _error(self, response: OutboundResponse) -> ProviderError:
        body = http.error_json(response)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or error.get("type") or "")
        text = str(error.get("message") or "")
        message = http.redact(f"HTTP {response.status_code} {code}: {text}", [self._key])
        status = response.status_code
        if code == "insufficient_quota" or error.get("type") == "insufficient_quota":
            return TerminalProviderError(
                self.name, message, status=status, unavailable_for=http.QUOTA_PARKING_SECONDS
            )
        if status == 404:
            # Every request would fail the same way until the configuration changes.
            if code != "model_not_found":
                message = f"HTTP 404 from {self.url}: is the base URL right? {message}"
            return TerminalProviderError(self.name, message, status=status)
        if status == 400 and code == "context_length_exceeded":
            return RequestRejected(self.name, message, status=status)
        return http.classify_status(self.name, response, message)
