"""The LLM client used by the rest of TTA."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from components.llm.prompts import Message, PromptTemplate, estimate_tokens
from components.llm.rate_limit import TokenBucket
from components.llm.retry import ErrorKind, LLMError, RetryPolicy, classify_error
from components.model_management import (
    ModelRegistry,
    ModelRequirements,
    ModelSelector,
    NoModelAvailableError,
    Provider,
    ResponseCache,
)

ProviderBackend = Callable[[str, list[Message]], str]
"""A backend takes a model name and messages and returns the completion text."""


@dataclass(frozen=True)
class Completion:
    model: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int = 1
    cached: bool = False
    skipped_models: tuple[str, ...] = field(default_factory=tuple)


class LLMClient:
    """Renders prompts, picks a model, and calls its provider with retries and fallback."""

    def __init__(
        self,
        registry: ModelRegistry,
        backends: Mapping[Provider, ProviderBackend],
        *,
        selector: ModelSelector | None = None,
        limiter: TokenBucket | None = None,
        retry: RetryPolicy | None = None,
        cache: ResponseCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._registry = registry
        self._selector = selector or ModelSelector(registry)
        self._backends = dict(backends)
        self._limiter = limiter
        self._retry = retry or RetryPolicy()
        self._cache = cache
        self._sleep = sleep

    def complete(
        self,
        template: PromptTemplate,
        values: Mapping[str, object],
        requirements: ModelRequirements | None = None,
    ) -> Completion:
        messages = template.render(values)
        return self.complete_messages(messages, requirements)

    def complete_messages(
        self, messages: list[Message], requirements: ModelRequirements | None = None
    ) -> Completion:
        cache_key = "\n".join(f"{m.role}: {m.content}" for m in messages)
        skipped: list[str] = []
        last_error: BaseException | None = None
        for model in self._selector.fallback_chain(requirements):
            if self._cache is not None:
                cached = self._cache.get(model, cache_key)
                if isinstance(cached, Completion):
                    return replace(cached, cached=True)
            backend = self._backends.get(self._registry.get(model).provider)
            if backend is None:
                skipped.append(model)
                continue
            attempts = 0

            def call(backend: ProviderBackend = backend, model: str = model) -> str:
                nonlocal attempts
                attempts += 1
                if self._limiter is not None:
                    self._limiter.acquire()
                return backend(model, messages)

            try:
                text = self._retry.run(call, sleep=self._sleep)
            except Exception as error:
                if classify_error(error) is ErrorKind.INVALID_REQUEST:
                    raise
                last_error = error
                skipped.append(model)
                continue
            completion = Completion(
                model=model,
                text=text,
                prompt_tokens=estimate_tokens(messages),
                completion_tokens=max(1, len(text) // 4),
                attempts=attempts,
                skipped_models=tuple(skipped),
            )
            if self._cache is not None:
                self._cache.put(model, cache_key, completion)
            return completion
        if last_error is not None:
            raise LLMError(f"all models failed; last error: {last_error}") from last_error
        raise NoModelAvailableError(f"no backend configured for models {', '.join(skipped)}")
