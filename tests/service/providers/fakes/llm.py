"""Fake OpenAI chat completions and Anthropic messages APIs."""

from __future__ import annotations

import json
import re
from typing import Any

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from .base import Fake, Received, Reply, Scripted, fake_translate

# LLMs: both fakes behave like an obedient model that finds the delimited JSON array of texts
# in the user turn and translates each item, leaving sentinels alone.

_BLOCK_RE = re.compile(r"<messages-(\w+)>\n(.*)\n</messages-\1>", re.DOTALL)
_SENTINEL_KEEP = re.compile(r"⟦\d+⟧")


def llm_reply(system: str, user: str) -> str:
    match = _BLOCK_RE.search(user)
    if not match:
        return "I could not find any messages to translate."
    texts = json.loads(match.group(2))
    target = re.search(r"into .*?\(([\w-]+)\)", system)
    code = target.group(1) if target else "??"
    return json.dumps({"translations": [fake_translate(t, code, _SENTINEL_KEEP) for t in texts]})


def openai_error(status: int, message: str, type_: str, code: str | None) -> Scripted:
    return Scripted(
        status, {"error": {"message": message, "type": type_, "param": None, "code": code}}
    )


def _openai_body(message: str, param: str | None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    }


class OpenAIFake(Fake):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        # When set, the assistant answers with this content instead of translating.
        self.content: str | None = None

    def reset(self) -> None:
        super().reset()
        self.content = None

    def routes(self) -> list[HTTPRouteHandler]:
        @post("/v1/chat/completions", status_code=200)
        async def completions(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._complete)

        return [completions]

    def check(self, req: Received) -> Reply | None:
        auth = req.headers.get("authorization", "")
        if auth != f"Bearer {self.key}":
            # The real API echoes (part of) the key it got; the provider must not pass it on.
            given = auth.removeprefix("Bearer ")
            return 401, {
                "error": {
                    "message": f"Incorrect API key provided: {given}. You can find "
                    "your API key at https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        body = req.body
        messages = body.get("messages") if isinstance(body, dict) else None
        roles = ("system", "developer", "user", "assistant")
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("model"), str)
            or not isinstance(messages, list)
            or not all(
                isinstance(m, dict) and m.get("role") in roles and isinstance(m.get("content"), str)
                for m in messages
            )
        ):
            return 400, _openai_body("Invalid request body", "messages")
        fmt = body.get("response_format")
        wants_json = isinstance(fmt, dict) and fmt.get("type") == "json_object"
        if wants_json and not any("json" in m["content"].lower() for m in messages):
            message = (
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'."
            )
            return 400, _openai_body(message, "messages")
        return None

    def _complete(self, req: Received) -> Reply:
        messages = req.body["messages"]
        system = "\n".join(m["content"] for m in messages if m["role"] in ("system", "developer"))
        user = "\n".join(m["content"] for m in messages if m["role"] == "user")
        content = self.content if self.content is not None else llm_reply(system, user)
        return 200, {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": req.body["model"] + "-2025-04-14",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 1000,
                "completion_tokens": 500,
                "total_tokens": 1500,
            },
        }


# What the Messages API takes at the version the provider speaks (the `anthropic` SDK 2.17's
# MessageCreateParams, API version 2026-10-21): anything else is refused, as the API does.
ANTHROPIC_VERSION = "2026-10-21"
ANTHROPIC_FIELDS = frozenset(
    [
        "max_tokens",
        "messages",
        "model",
        "cache_control",
        "container",
        "diagnostics",
        "inference_geo",
        "metadata",
        "output_config",
        "service_tier",
        "speed",
        "stop_sequences",
        "stream",
        "system",
        "thinking",
        "tool_choice",
        "tools",
        "user_profile_id",
        "workspace_id",
    ]
)


def anthropic_error(
    status: int,
    type_: str,
    message: str,
    headers: dict[str, str] | None = None,
    error_code: str | None = None,
) -> Scripted:
    error: dict[str, Any] = {"type": type_, "message": message}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    body = {"type": "error", "error": error, "request_id": "req_fake"}
    return Scripted(status, body, headers or {})


class AnthropicFake(Fake):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.content: str | None = None

    def reset(self) -> None:
        super().reset()
        self.content = None

    def routes(self) -> list[HTTPRouteHandler]:
        @post("/v1/messages", status_code=200)
        async def messages(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.dispatch(request, self._complete)

        return [messages]

    def check(self, req: Received) -> Reply | None:
        def error(status: int, kind: str, message: str) -> Reply:
            return status, {"type": "error", "error": {"type": kind, "message": message}}

        # The API takes the key as x-api-key or, as the current SDK sends it, a bearer token.
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if self.key not in (req.headers.get("x-api-key"), bearer):
            return error(401, "authentication_error", "invalid x-api-key")
        if req.headers.get("anthropic-version") != ANTHROPIC_VERSION:
            return error(400, "invalid_request_error", "anthropic-version: header is required")
        body = req.body
        if not isinstance(body, dict):
            return error(400, "invalid_request_error", "invalid JSON")
        extra = sorted(set(body) - ANTHROPIC_FIELDS)
        if extra:
            return error(
                400, "invalid_request_error", f"{extra[0]}: Extra inputs are not permitted"
            )
        if not isinstance(body.get("max_tokens"), int) or not isinstance(body.get("model"), str):
            return error(400, "invalid_request_error", "max_tokens: Field required")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or messages[0].get("role") != "user"
            or any(m.get("role") not in ("user", "assistant") for m in messages)
        ):
            return error(
                400, "invalid_request_error", "messages: first message must use the user role"
            )
        if "system" in body and not isinstance(body["system"], str | list):
            return error(400, "invalid_request_error", "system: Input should be a valid string")
        return None

    def _complete(self, req: Received) -> Reply:
        body = req.body
        user = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
        text = self.content if self.content is not None else llm_reply(body.get("system", ""), user)
        return 200, {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 2000, "output_tokens": 400},
        }
