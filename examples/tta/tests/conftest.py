"""Shared fixtures: a fresh graph store, a fake clock, and an LLM client with scripted backends."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from components.llm import LLMClient, Message, RetryPolicy
from components.model_management import ModelRegistry, ModelSpec, Provider
from components.neo4j_component import GraphStore


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """Drop-in for time.sleep: records the wait and moves the clock instead of blocking."""
        self.sleeps.append(seconds)
        self.advance(seconds)


class ScriptedBackend:
    """A provider backend that replays a script of responses (str) or errors (exceptions)."""

    def __init__(self, script: Iterable[str | Exception] = (), default: str = "ok") -> None:
        self.script = list(script)
        self.default = default
        self.calls: list[tuple[str, list[Message]]] = []

    def __call__(self, model: str, messages: list[Message]) -> str:
        self.calls.append((model, messages))
        if not self.script:
            return self.default
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


@pytest.fixture
def graph_store() -> GraphStore:
    return GraphStore()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def model_registry() -> ModelRegistry:
    registry = ModelRegistry()
    for spec in (
        ModelSpec("gpt-4o-mini", Provider.OPENAI, 0.15, 400, 128_000, frozenset({"chat", "json"})),
        ModelSpec("gpt-4o", Provider.OPENAI, 2.5, 900, 128_000, frozenset({"chat", "json"})),
        ModelSpec("claude-haiku", Provider.ANTHROPIC, 0.25, 350, 200_000, frozenset({"chat"})),
        ModelSpec("llama-3-70b", Provider.OPENROUTER, 0.6, 700, 8_000, frozenset({"chat"})),
        ModelSpec("local-phi", Provider.LOCAL, 0.0, 1500, 4_000, frozenset({"chat"})),
    ):
        registry.register(spec)
    return registry


@pytest.fixture
def make_llm_client(
    model_registry: ModelRegistry, fake_clock: FakeClock
) -> Callable[..., tuple[LLMClient, dict[Provider, ScriptedBackend]]]:
    """Build an LLM client whose providers are ScriptedBackends (one per provider)."""

    def make(
        scripts: dict[Provider, list[str | Exception]] | None = None,
    ) -> tuple[LLMClient, dict[Provider, ScriptedBackend]]:
        scripts = scripts or {}
        backends = {provider: ScriptedBackend(scripts.get(provider, ())) for provider in Provider}
        client = LLMClient(
            model_registry,
            dict(backends),
            retry=RetryPolicy(max_attempts=2, base_delay=0.1),
            sleep=fake_clock.sleep,
        )
        return client, backends

    return make
