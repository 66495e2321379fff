"""Provider adapters: turn messages into request payloads and responses into text.

The HTTP transport is injected (``Transport``), so these adapters contain only the
provider-specific shapes. Each adapter is a ``ProviderBackend`` for ``LLMClient``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from components.llm.prompts import Message
from components.llm.retry import LLMError
from components.model_management import Provider

Transport = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
"""Posts a JSON payload to a URL and returns the decoded JSON body (with a ``status`` key)."""

DEFAULT_BASE_URLS = {
    Provider.OPENAI: "https://api.openai.com/v1/chat/completions",
    Provider.ANTHROPIC: "https://api.anthropic.com/v1/messages",
    Provider.OPENROUTER: "https://openrouter.ai/api/v1/chat/completions",
    Provider.LOCAL: "http://localhost:11434/v1/chat/completions",
}


def openai_payload(model: str, messages: list[Message], max_tokens: int) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
    }


def anthropic_payload(model: str, messages: list[Message], max_tokens: int) -> dict[str, Any]:
    """Anthropic takes the system prompt separately and requires alternating turns."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns: list[dict[str, str]] = []
    for message in messages:
        if message.role == "system":
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    payload: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": turns}
    if system:
        payload["system"] = system
    return payload


def _raise_for_error(body: Mapping[str, Any]) -> None:
    status = int(body.get("status", 200))
    if status < 400:
        return
    error = body.get("error")
    if isinstance(error, Mapping):
        message = str(error.get("message", "unknown error"))
    elif error:
        message = str(error)
    else:
        message = f"HTTP {status}"
    raise LLMError(message, status=status)


def parse_openai(body: Mapping[str, Any]) -> str:
    _raise_for_error(body)
    choices = body.get("choices") or []
    if not choices:
        raise LLMError("response contained no choices", status=502)
    message = choices[0].get("message") or {}
    content = message.get("content")
    if not isinstance(content, str):
        raise LLMError("response choice has no text content", status=502)
    if choices[0].get("finish_reason") == "content_filter":
        raise LLMError("response was filtered by the provider", status=400)
    return content


def parse_anthropic(body: Mapping[str, Any]) -> str:
    _raise_for_error(body)
    blocks = body.get("content") or []
    texts = [block["text"] for block in blocks if block.get("type") == "text"]
    if not texts:
        raise LLMError("response contained no text blocks", status=502)
    return "".join(texts)


class HttpBackend:
    """A ``ProviderBackend`` for one provider on top of an injected transport."""

    def __init__(
        self,
        provider: Provider,
        transport: Transport,
        base_url: str | None = None,
        max_tokens: int = 512,
    ) -> None:
        self.provider = provider
        self._transport = transport
        self._url = base_url or DEFAULT_BASE_URLS[provider]
        self._max_tokens = max_tokens

    def __call__(self, model: str, messages: list[Message]) -> str:
        if self.provider is Provider.ANTHROPIC:
            body = self._transport(self._url, anthropic_payload(model, messages, self._max_tokens))
            return parse_anthropic(body)
        body = self._transport(self._url, openai_payload(model, messages, self._max_tokens))
        return parse_openai(body)
