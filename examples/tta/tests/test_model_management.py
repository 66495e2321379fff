from __future__ import annotations

from pathlib import Path

import pytest

from components.model_management import (
    ModelRegistry,
    ModelRequirements,
    ModelSelector,
    ModelSpec,
    NoModelAvailableError,
    Provider,
    ResponseCache,
    UnknownModelError,
)

CHAT = frozenset({"chat"})


# -- registry ----------------------------------------------------------------------------


def test_registry_lookup_and_grouping(model_registry: ModelRegistry) -> None:
    assert len(model_registry) == 5
    assert model_registry.get("gpt-4o").provider is Provider.OPENAI
    assert model_registry.find("gpt-4o") is model_registry.get("gpt-4o")
    assert model_registry.find("gpt-5") is None
    assert [m.name for m in model_registry.by_provider(Provider.OPENAI)] == [
        "gpt-4o-mini",
        "gpt-4o",
    ]


def test_registry_rejects_duplicates_and_unknown_names(model_registry: ModelRegistry) -> None:
    with pytest.raises(ValueError, match="already registered"):
        model_registry.register(model_registry.get("gpt-4o"))
    with pytest.raises(UnknownModelError):
        model_registry.get("gpt-5")
    with pytest.raises(UnknownModelError):
        model_registry.mark_unavailable("gpt-5")


def test_availability_toggles(model_registry: ModelRegistry) -> None:
    model_registry.mark_unavailable("claude-haiku")
    assert not model_registry.is_available("claude-haiku")
    assert not model_registry.is_available("does-not-exist")
    assert model_registry.available(Provider.ANTHROPIC) == []
    assert len(model_registry.available()) == 4
    model_registry.mark_available("claude-haiku")
    assert model_registry.is_available("claude-haiku")


def test_spec_capabilities() -> None:
    spec = ModelSpec("m", Provider.LOCAL, 0.0, 10, 1000, frozenset({"chat", "json"}))
    assert spec.supports({"json"})
    assert not spec.supports({"vision"})


# -- selection ---------------------------------------------------------------------------


def test_requirements_validate_weight() -> None:
    with pytest.raises(ValueError, match="cost_weight"):
        ModelRequirements(cost_weight=1.5)


@pytest.mark.parametrize(
    ("requirements", "accepted"),
    [
        (ModelRequirements(capabilities=frozenset({"vision"})), False),
        (ModelRequirements(min_context=200_000), False),
        (ModelRequirements(max_cost_per_1k=0.1), False),
        (ModelRequirements(max_cost_per_1k=1.0, max_latency_ms=100), False),
        (ModelRequirements(max_cost_per_1k=1.0, max_latency_ms=1000), True),
        (ModelRequirements(), True),
    ],
)
def test_requirements_accept(requirements: ModelRequirements, accepted: bool) -> None:
    spec = ModelSpec("m", Provider.OPENAI, 0.5, 500, 128_000, CHAT)
    assert requirements.accepts(spec) is accepted


def test_selector_prefers_first_provider_then_score(model_registry: ModelRegistry) -> None:
    selector = ModelSelector(model_registry)
    assert selector.select().name == "gpt-4o-mini"
    # Latency-only weighting still picks the faster OpenAI model; providers come first.
    assert selector.select(ModelRequirements(cost_weight=0.0)).name == "gpt-4o-mini"


def test_selector_falls_back_across_providers(model_registry: ModelRegistry) -> None:
    model_registry.mark_unavailable("gpt-4o-mini")
    model_registry.mark_unavailable("gpt-4o")
    selector = ModelSelector(model_registry)
    assert selector.select().name == "claude-haiku"
    assert selector.fallback_chain(limit=2) == ["claude-haiku", "llama-3-70b"]
    assert selector.fallback_chain(ModelRequirements(min_context=150_000)) == ["claude-haiku"]


def test_selector_custom_order_and_validation(model_registry: ModelRegistry) -> None:
    local_first = ModelSelector(model_registry, [Provider.LOCAL, Provider.OPENAI])
    assert local_first.fallback_chain() == ["local-phi", "gpt-4o-mini", "gpt-4o"]
    with pytest.raises(ValueError, match="twice"):
        ModelSelector(model_registry, [Provider.LOCAL, Provider.LOCAL])


def test_selector_reports_when_nothing_fits(model_registry: ModelRegistry) -> None:
    selector = ModelSelector(model_registry)
    impossible = ModelRequirements(capabilities=frozenset({"vision"}))
    with pytest.raises(NoModelAvailableError):
        selector.select(impossible)
    with pytest.raises(NoModelAvailableError):
        selector.fallback_chain(impossible)


def test_score_normalises_cost_and_latency(model_registry: ModelRegistry) -> None:
    selector = ModelSelector(model_registry)
    openai = model_registry.by_provider(Provider.OPENAI)
    cheap, pricey = openai
    balanced = ModelRequirements(cost_weight=0.5)
    assert selector.score(pricey, openai, balanced) == pytest.approx(1.0)
    assert selector.score(cheap, openai, balanced) == pytest.approx(0.5 * 0.06 + 0.5 * 400 / 900)


def test_cheapest_per_provider(model_registry: ModelRegistry) -> None:
    model_registry.register(ModelSpec("gpt-3.5", Provider.OPENAI, 0.5, 300, 16_000, CHAT))
    selector = ModelSelector(model_registry)
    assert selector.cheapest(Provider.OPENAI).name == "gpt-4o-mini"
    model_registry.mark_unavailable("local-phi")
    assert selector.cheapest(Provider.LOCAL) is None


# -- cache -------------------------------------------------------------------------------


def test_cache_hits_misses_and_structured_values() -> None:
    cache = ResponseCache()
    assert cache.get("gpt-4o", "hello") is None
    cache.put("gpt-4o", "hello", {"text": "hi", "tokens": [1, 2]})
    assert cache.get("gpt-4o", "hello") == {"text": "hi", "tokens": [1, 2]}
    assert cache.get("claude-haiku", "hello") is None
    assert (cache.hits, cache.misses) == (1, 2)
    assert cache.hit_rate() == pytest.approx(1 / 3)


def test_cache_evicts_least_recently_used() -> None:
    cache = ResponseCache(max_entries=2)
    assert cache.hit_rate() == 0.0
    cache.put("m", "a", 1)
    cache.put("m", "b", 2)
    cache.get("m", "a")
    cache.put("m", "c", 3)
    assert len(cache) == 2
    assert cache.get("m", "b") is None
    assert cache.get("m", "a") == 1


def test_cache_rejects_zero_size() -> None:
    with pytest.raises(ValueError):
        ResponseCache(max_entries=0)


def test_cache_round_trips_through_disk(tmp_path: Path) -> None:
    cache = ResponseCache()
    for i in range(3):
        cache.put("m", f"prompt {i}", f"answer {i}")
    path = tmp_path / "cache.bin"
    cache.save(path)

    small = ResponseCache(max_entries=2)
    assert small.load(path) == 3
    assert len(small) == 2
    assert small.get("m", "prompt 2") == "answer 2"
    assert small.get("m", "prompt 0") is None
