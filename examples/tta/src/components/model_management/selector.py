"""Cost/latency-aware model selection with fallback across providers."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence

from components.model_management.registry import ModelRegistry, ModelSpec, Provider

DEFAULT_FALLBACK_ORDER = (Provider.OPENAI, Provider.ANTHROPIC, Provider.OPENROUTER, Provider.LOCAL)


class NoModelAvailableError(LookupError):
    """Raised when no registered, available model satisfies the requirements."""


@dataclass(frozen=True)
class ModelRequirements:
    capabilities: frozenset[str] = field(default_factory=frozenset)
    min_context: int = 0
    max_cost_per_1k: float | None = None
    max_latency_ms: int | None = None
    cost_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.cost_weight <= 1.0:
            raise ValueError("cost_weight must be between 0 and 1")

    def accepts(self, spec: ModelSpec) -> bool:
        if not spec.supports(self.capabilities) or spec.context_window < self.min_context:
            return False
        if self.max_cost_per_1k is not None and spec.cost_per_1k_tokens > self.max_cost_per_1k:
            return False
        if self.max_latency_ms is not None and spec.latency_ms > self.max_latency_ms:
            return False
        return True


class ModelSelector:
    """Picks the best model of the first provider that can serve a request."""

    def __init__(
        self, registry: ModelRegistry, fallback_order: Sequence[Provider] = DEFAULT_FALLBACK_ORDER
    ) -> None:
        if len(set(fallback_order)) != len(fallback_order):
            raise ValueError("fallback order lists a provider twice")
        self._registry = registry
        self._order = tuple(fallback_order)

    def score(self, spec: ModelSpec, candidates: Sequence[ModelSpec], requirements: ModelRequirements) -> float:
        """Lower is better: a weighted mix of normalised cost and latency."""
        max_cost = max(c.cost_per_1k_tokens for c in candidates) or 1.0
        max_latency = max(c.latency_ms for c in candidates) or 1
        cost = spec.cost_per_1k_tokens / max_cost
        latency = spec.latency_ms / max_latency
        return requirements.cost_weight * cost + (1 - requirements.cost_weight) * latency

    def candidates(self, requirements: ModelRequirements) -> list[ModelSpec]:
        ordered: list[ModelSpec] = []
        for provider in self._order:
            matching = [s for s in self._registry.available(provider) if requirements.accepts(s)]
            ordered.extend(sorted(matching, key=lambda s: (self.score(s, matching, requirements), s.name)))
        return ordered

    def select(self, requirements: ModelRequirements | None = None) -> ModelSpec:
        requirements = requirements or ModelRequirements()
        for spec in self.candidates(requirements):
            return spec
        raise NoModelAvailableError("no available model satisfies the requirements")

    def fallback_chain(self, requirements: ModelRequirements | None = None, limit: int = 3) -> list[str]:
        names = [spec.name for spec in self.candidates(requirements or ModelRequirements())]
        if not names:
            raise NoModelAvailableError("no available model satisfies the requirements")
        return names[:limit]

    def cheapest(self, provider: Provider) -> ModelSpec:
        models = self._registry.available(provider)
        best = None
        for spec in models:
            if best is None or spec.cost_per_1k_tokens < best.cost_per_1k_tokens:
                best = spec
        return best
