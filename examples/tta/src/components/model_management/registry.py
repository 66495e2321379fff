"""Registry of the models TTA may call, grouped by provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Optional, List


class Provider(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    OPENROUTER = "openrouter"
    LOCAL = "local"


class UnknownModelError(KeyError):
    """Raised when a model name is not registered."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    provider: Provider
    cost_per_1k_tokens: float
    latency_ms: int
    context_window: int
    capabilities: frozenset[str] = field(default_factory=frozenset)

    def supports(self, capabilities: set[str] | frozenset[str]) -> bool:
        return capabilities <= self.capabilities


class ModelRegistry:
    def __init__(self) -> None:
        self._models: dict[str, ModelSpec] = {}
        self._unavailable: set[str] = set()

    def register(self, spec: ModelSpec) -> None:
        if spec.name in self._models:
            raise ValueError(f"model {spec.name!r} is already registered")
        self._models[spec.name] = spec

    def get(self, name: str) -> ModelSpec:
        if name not in self._models:
            raise UnknownModelError(name)
        return self._models[name]

    def find(self, name: str) -> ModelSpec:
        return self._models.get(name)

    def by_provider(self, provider: Provider) -> List[ModelSpec]:
        return [m for m in self._models.values() if m.provider == provider]

    def mark_unavailable(self, name: str) -> None:
        self.get(name)
        self._unavailable.add(name)

    def mark_available(self, name: str) -> None:
        self._unavailable.discard(name)

    def is_available(self, name: str) -> bool:
        return name in self._models and name not in self._unavailable

    def available(self, provider: Optional[Provider] = None) -> List[ModelSpec]:
        return [
            spec
            for spec in self._models.values()
            if spec.name not in self._unavailable and (provider is None or spec.provider == provider)
        ]

    def __len__(self) -> int:
        return len(self._models)
