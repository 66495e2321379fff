from __future__ import annotations

import pytest

from components.narrative_arc_orchestrator import CausalGraph, StoryEvent
from components.narrative_coherence import (
    ContradictionDetector,
    Fact,
    FactStore,
    TimelineChecker,
)
from components.neo4j_component import GraphStore


def test_fact_validity_window() -> None:
    fact = Fact("mara", "location", "harbour", turn=2, until=5)
    assert fact.holds_at(2) and fact.holds_at(4)
    assert not fact.holds_at(5) and not fact.holds_at(1)
    assert fact.overlaps(Fact("mara", "location", "lighthouse", turn=4))
    assert not fact.overlaps(Fact("mara", "location", "lighthouse", turn=5))
    assert not Fact("mara", "mood", "calm", turn=7).overlaps(fact)
    with pytest.raises(ValueError, match="ends before it starts"):
        Fact("mara", "mood", "calm", turn=3, until=3)


def test_fact_store_round_trip(graph_store: GraphStore) -> None:
    facts = FactStore(graph_store)
    facts.add(Fact("mara", "location", "harbour", 1, until=4, source_event="arrival"))
    facts.add(Fact("mara", "location", "lighthouse", 4))
    facts.add(Fact("jon", "mood", "wary", 2))

    assert [f.value for f in facts.all()] == ["harbour", "wary", "lighthouse"]
    assert facts.about("mara")[0].source_event == "arrival"
    assert facts.about("nobody") == []
    assert facts.value_at("mara", "location", 2) == "harbour"
    assert facts.value_at("mara", "location", 9) == "lighthouse"
    assert facts.value_at("mara", "mood", 2) is None
    # facts hang off a single entity node per subject
    assert len(graph_store.find_nodes("Entity", name="mara")) == 1


def test_conflicting_single_valued_facts() -> None:
    detector = ContradictionDetector()
    facts = [
        Fact("mara", "trusts_player", "yes", 1),
        Fact("mara", "trusts_player", "no", 3),
        Fact("mara", "knows", "secret-a", 1),
        Fact("mara", "knows", "secret-b", 1),
        Fact("jon", "mood", "calm", 1, until=3),
        Fact("jon", "mood", "angry", 3),
    ]
    found = detector.check(facts)
    assert [c.reason for c in found] == ["mara.trusts_player is both 'yes' and 'no'"]


def test_facts_after_a_terminal_state_are_contradictions() -> None:
    detector = ContradictionDetector()
    dead = Fact("keeper", "status", "dead", 5)
    facts = [
        Fact("keeper", "status", "alive", 1, until=5),
        dead,
        Fact("keeper", "location", "dock", 6),
    ]
    found = detector.check(facts)
    assert [(c.first, c.reason) for c in found] == [(dead, "keeper is dead since turn 5")]
    assert not detector.is_consistent(facts[:2], Fact("keeper", "mood", "happy", 7))
    assert detector.is_consistent(facts[:2], Fact("keeper", "mood", "remembered", 4))


def test_timeline_checks() -> None:
    graph = CausalGraph.from_edges(
        [StoryEvent("letter", "a letter arrives", 4), StoryEvent("reply", "Ava replies", 2)],
        [("letter", "reply")],
    )
    facts = [
        Fact("ava", "location", "harbour", 1, until=3),
        Fact("ava", "location", "lighthouse", 2),
        Fact("ava", "location", "lighthouse", 5),
        Fact("ava", "mood", "hopeful", 9),
    ]
    issues = TimelineChecker().check(graph, facts, current_turn=6)
    assert [(i.kind, i.detail) for i in issues] == [
        ("effect-before-cause", "reply happens before letter"),
        ("two-places", "ava is in harbour and lighthouse at turn 2"),
        ("future-fact", "ava.mood is set on turn 9"),
    ]
