"""What the providers send, and what the fakes answer, held to what the vendors publish.

- DeepL: its OpenAPI document (DeepLcom/openapi) and its mock server's language lists;
- OpenAI: its OpenAPI document (openai/openai-openapi) and the official `openai` SDK;
- Anthropic: the official `anthropic` SDK's request types, response models and error handling.

The published schemas are stored in `contracts/` as data, each with its source, commit and
version (`x-source`), cut to the operations the providers use. A fake that drifted from the
real API fails here, not in production.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import jsonschema
import openai
import pydantic
import pytest
from anthropic.types import Message
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from openai.types.chat import ChatCompletion
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

from service.outbound import OutboundClient
from service.settings import ProviderSettings, Secret
from service.translation.providers import anthropic as anthropic_provider
from service.translation.providers.anthropic import AnthropicProvider
from service.translation.providers.base import (
    ContextMessage,
    GlossaryEntry,
    TranslationRequest,
)
from service.translation.providers.deepl import DeepLProvider
from service.translation.providers.openai import OpenAIProvider

from .conftest import ANTHROPIC_KEY, DEEPL_KEY, OPENAI_KEY
from .fakes import AnthropicFake, DeepLFake, OpenAIFake, Received, anthropic_error

CONTRACTS = Path(__file__).parent / "contracts"


class Schema:
    """One of the stored OpenAPI cuts: validates a body against one of its root schemas."""

    def __init__(self, name: str) -> None:
        self.document = json.loads((CONTRACTS / name).read_text())

    def check(self, root: str, value: Any) -> None:
        schema = {"$ref": f"#/roots/{root}", **self.document}
        jsonschema.Draft202012Validator(schema).validate(value)

    def check_fields(self, root: str, value: dict[str, Any]) -> None:
        """Every field we send is one the operation documents (the specs allow extra ones)."""
        documented = self._properties(self.document["roots"][root])
        assert set(value) <= documented, set(value) - documented

    def _properties(self, node: dict[str, Any]) -> set[str]:
        if "$ref" in node:
            node = self.document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        found = set(node.get("properties", {}))
        for part in node.get("allOf", []):
            found |= self._properties(part)
        return found


DEEPL = Schema("deepl-openapi.json")
OPENAI = Schema("openai-openapi.json")


def test_the_stored_schemas_say_where_they_come_from() -> None:
    for name in ("deepl-openapi.json", "openai-openapi.json", "deepl-languages.json"):
        source = json.loads((CONTRACTS / name).read_text())["x-source"]
        assert source["repository"] and len(source["commit"]) == 40


def replies(received: list[Received], path: str, method: str = "POST") -> list[Any]:
    return [r.reply[1] for r in received if r.path == path and r.method == method and r.reply]


async def test_deepl_requests_and_replies_match_deepls_openapi(
    deepl_fake: DeepLFake, client: OutboundClient
) -> None:
    settings = ProviderSettings(deepl_api_key=Secret(DEEPL_KEY), deepl_base_url=deepl_fake.url)
    provider = DeepLProvider(settings, client)
    await provider.translate(
        TranslationRequest(
            texts=("deploy ⟦0⟧ to the cluster", "a < b"),
            source="en",
            target="pt-BR",
            formality="more",
            context=(ContextMessage("earlier"),),
            glossary=(GlossaryEntry("cluster", "Cluster-X"),),
            glossary_scope="ws",
            glossary_version=1,
        )
    )
    # A pair DeepL makes no glossary for: the terms travel as ignored tags instead.
    await provider.translate(
        TranslationRequest(
            texts=("hello",), source="en", target="hi", glossary=(GlossaryEntry("hello", "x"),)
        )
    )

    sent = [r.body for r in deepl_fake.requests_to("/v2/translate")]
    created = [r.body for r in deepl_fake.requests_to("/v2/glossaries", "POST")]
    assert len(sent) == 2 and len(created) == 2
    for body in sent:
        DEEPL.check("translate_request", body)
        DEEPL.check_fields("translate_request", body)
    DEEPL.check("glossary_create_request", created[0])
    DEEPL.check_fields("glossary_create_request", created[0])
    for reply in replies(deepl_fake.received, "/v2/translate"):
        DEEPL.check("translate_response", reply)
    [made, refused] = replies(deepl_fake.received, "/v2/glossaries")
    DEEPL.check("glossary_create_response", made)
    DEEPL.check("error_response", refused)
    for listing in replies(deepl_fake.received, "/v2/glossaries", "GET"):
        DEEPL.check("glossary_list_response", listing)


@pytest.mark.parametrize("model", ["gpt-4.1-mini", "gpt-5-mini"])
async def test_openai_requests_and_replies_match_openais_openapi_and_sdk(
    openai_fake: OpenAIFake, client: OutboundClient, model: str
) -> None:
    settings = ProviderSettings(
        openai_api_key=Secret(OPENAI_KEY), openai_base_url=openai_fake.url, openai_model=model
    )
    await OpenAIProvider(settings, client).translate(
        TranslationRequest(
            texts=("hi ⟦0⟧",), source="en", target="de", context=(ContextMessage("earlier"),)
        )
    )
    [exchange] = openai_fake.received
    OPENAI.check("chat_completion_request", exchange.body)
    OPENAI.check_fields("chat_completion_request", exchange.body)
    assert set(exchange.body) <= CompletionCreateParamsNonStreaming.__optional_keys__
    assert exchange.reply is not None
    OPENAI.check("chat_completion_response", exchange.reply[1])
    ChatCompletion.model_validate(exchange.reply[1])


async def test_openai_fake_errors_read_as_the_sdk_reads_real_ones(
    openai_fake: OpenAIFake, client: OutboundClient
) -> None:
    sdk = openai.AsyncOpenAI(api_key="sk-wrong-key-000000", base_url=f"{openai_fake.url}/v1")
    with pytest.raises(openai.AuthenticationError) as info:
        await sdk.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.code == "invalid_api_key"
    [exchange] = openai_fake.received
    assert exchange.reply is not None
    OPENAI.check("error_response", exchange.reply[1])
    await sdk.close()


async def test_the_openai_sdk_talks_to_the_fake_like_to_the_api(openai_fake: OpenAIFake) -> None:
    # The SDK's base URL convention (with /v1) reaches the fake's routes, and the fake's reply
    # parses into the SDK's types: the fake speaks the wire format the SDK expects.
    sdk = openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=f"{openai_fake.url}/v1", max_retries=0)
    completion = await sdk.chat.completions.create(
        model="gpt-4.1-mini",
        messages=[{"role": "user", "content": "reply in json"}],
        response_format={"type": "json_object"},
    )
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == 1000
    await sdk.close()


async def test_anthropic_requests_match_the_sdks_types(
    anthropic_fake: AnthropicFake, client: OutboundClient
) -> None:
    settings = ProviderSettings(
        anthropic_api_key=Secret(ANTHROPIC_KEY), anthropic_base_url=anthropic_fake.url
    )
    await AnthropicProvider(settings, client).translate(
        TranslationRequest(texts=("hi ⟦0⟧",), source="en", target="de", formality="less")
    )
    [exchange] = anthropic_fake.received
    assert set(exchange.body) <= MessageCreateParamsNonStreaming.__optional_keys__
    pydantic.TypeAdapter(MessageCreateParamsNonStreaming).validate_python(exchange.body)
    # The version the SDK speaks is the version the provider sends.
    assert exchange.headers["anthropic-version"] == anthropic_provider.API_VERSION
    assert anthropic_provider.API_VERSION == anthropic._constants.ANTHROPIC_API_VERSION
    assert exchange.reply is not None
    Message.model_validate(exchange.reply[1])


async def test_the_anthropic_sdk_talks_to_the_fake_like_to_the_api(
    anthropic_fake: AnthropicFake,
) -> None:
    sdk = anthropic.AsyncAnthropic(api_key=ANTHROPIC_KEY, base_url=anthropic_fake.url)
    message = await sdk.messages.create(
        model="claude-sonnet-5-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.stop_reason == "end_turn" and message.usage.input_tokens == 2000

    # A spend-limit 429 as the API sends it: the SDK reads the same error_code we park on.
    anthropic_fake.enqueue(
        anthropic_error(
            429,
            "rate_limit_error",
            "Spend limit reached",
            {"x-should-retry": "false"},
            error_code="enforced_spend_limit_reached",
        )
    )
    with pytest.raises(anthropic.RateLimitError) as info:
        await sdk.messages.create(
            model="claude-sonnet-5-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.error_code in anthropic_provider.SPEND_LIMIT_CODES
    assert len(anthropic_fake.requests_to("/v1/messages")) == 2  # the SDK did not retry either
    await sdk.close()
