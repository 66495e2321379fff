from __future__ import annotations

import pytest

from components.narrative_arc_orchestrator import (
    ArcManager,
    ArcStatus,
    CausalCycleError,
    CausalGraph,
    NarrativeArcOrchestrator,
    StoryEvent,
)
from components.neo4j_component import GraphStore


def _event(event_id: str, turn: int, arc_id: str | None = None) -> StoryEvent:
    return StoryEvent(event_id, f"{event_id} happens", turn, arc_id)


# -- causal graph ------------------------------------------------------------------------


def test_topological_order_respects_causes_then_turns() -> None:
    graph = CausalGraph.from_edges(
        [_event("storm", 1), _event("shipwreck", 2), _event("rescue", 3), _event("rumour", 1)],
        [("storm", "shipwreck"), ("shipwreck", "rescue")],
    )
    assert [e.event_id for e in graph.topological_order()] == [
        "rumour",
        "storm",
        "shipwreck",
        "rescue",
    ]
    assert "storm" in graph and len(graph) == 4


def test_cycles_are_rejected_with_the_cycle_path() -> None:
    graph = CausalGraph.from_edges(
        [_event("a", 1), _event("b", 2), _event("c", 3)], [("a", "b"), ("b", "c")]
    )
    with pytest.raises(CausalCycleError) as info:
        graph.add_cause("c", "a")
    assert info.value.cycle == ["a", "b", "c", "a"]


# -- arcs --------------------------------------------------------------------------------


def test_arc_progression_resolves_on_last_stage() -> None:
    arcs = ArcManager()
    arcs.create("courage", "Finding courage", ["fear", "first step", "stand tall"])
    assert arcs.title("courage") == "Finding courage"
    assert arcs.advance("courage", "e1") == "first step"
    assert arcs.advance("courage") == "stand tall"
    arc = arcs.get("courage")
    assert arc is not None and arc.progress == pytest.approx(2 / 3)
    arcs.advance("courage")
    assert arc.status is ArcStatus.RESOLVED and arc.progress == 1.0
    assert arc.event_ids == ["e1"]
    with pytest.raises(ValueError, match="resolved"):
        arcs.advance("courage")


# -- orchestrator ------------------------------------------------------------------------


def test_record_events_persists_causes_and_arc_membership(graph_store: GraphStore) -> None:
    orchestrator = NarrativeArcOrchestrator(graph_store)
    orchestrator.create_arc("courage", "Finding courage", ["fear", "first step", "stand tall"])
    orchestrator.record_event(_event("storm", 1, "courage"))
    orchestrator.record_event(_event("shelter", 2, "courage"), causes=["storm"])
    assert orchestrator.advance_arc("courage", "shelter") == "first step"

    arc_node = graph_store.find_one("Arc", arc_id="courage")
    assert arc_node is not None and arc_node.properties["stage"] == "first step"
    assert [e.event_id for e in orchestrator.arc_events("courage")] == ["storm", "shelter"]


def test_summary_with_llm_is_stored_on_the_arc(graph_store: GraphStore, make_llm_client) -> None:
    client, backends = make_llm_client({})
    backends_by_name = {p.value: b for p, b in backends.items()}
    backends_by_name["openai"].default = "Ava found a friend."
    orchestrator = NarrativeArcOrchestrator(graph_store, client)
    orchestrator.create_arc("trust", "Learning to trust", ["doubt", "trust"])
    assert orchestrator.summarise_arc("trust") == "Ava found a friend."
    ((model, messages),) = backends_by_name["openai"].calls
    assert model == "gpt-4o-mini"
    assert "Learning to trust" in messages[-1].content
    node = graph_store.find_one("Arc", arc_id="trust")
    assert node is not None and node.properties["summary"] == "Ava found a friend."
