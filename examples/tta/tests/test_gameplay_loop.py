from __future__ import annotations

import pytest

from components.gameplay_loop import Choice, PlayerState, TurnEngine, build_choice_set
from components.gameplay_loop.choices import BREATHING_CHOICE_ID, support_choice_set
from components.narrative_arc_orchestrator import NarrativeArcOrchestrator
from components.neo4j_component import GraphStore
from components.therapeutic_systems import DistressLevel, Intervention

HELP = Choice(
    "help",
    "Help the fisherman pull in his nets.",
    {"courage": 5, "trust": 5},
    arc_id="courage",
    advances_arc=True,
)
WAIT = Choice("wait", "Wait and watch the boats.", {"calm": 5})
STORM = Choice("storm", "Run out into the storm.", {"courage": 20, "calm": -60}, intense=True)
REST = Choice("rest", "Sit by the fire for a while.", {"calm": 10}, safe=True)


@pytest.fixture
def engine(graph_store: GraphStore) -> TurnEngine:
    orchestrator = NarrativeArcOrchestrator(graph_store)
    orchestrator.create_arc("courage", "Finding courage", ["fear", "first step", "stand tall"])
    return TurnEngine(graph_store, orchestrator, "ava", [HELP, WAIT, STORM, REST])


def test_calm_players_get_every_choice_up_to_four() -> None:
    extra = Choice("sing", "Sing a sea shanty.")
    offered = build_choice_set([HELP, WAIT, STORM, REST, extra], DistressLevel.NONE)
    assert offered.ids() == ["help", "wait", "storm", "rest"]
    assert offered.get("sing") is None


def test_distress_removes_intense_choices_and_keeps_a_safe_one() -> None:
    offered = build_choice_set([HELP, STORM, REST], DistressLevel.MODERATE)
    assert offered.ids() == ["help", "rest"]
    softened = build_choice_set([HELP, STORM, WAIT], DistressLevel.HIGH)
    assert softened.ids() == [BREATHING_CHOICE_ID, "help", "wait"]


def test_choice_set_validation() -> None:
    with pytest.raises(ValueError, match="unique"):
        build_choice_set([HELP, HELP], DistressLevel.NONE)
    with pytest.raises(ValueError, match="at least two"):
        build_choice_set([STORM], DistressLevel.CRISIS)


def test_player_stats_are_clamped() -> None:
    state = PlayerState("ava")
    assert state.apply({"calm": -80, "hope": 10}) == {"calm": -50, "hope": 10}
    assert state.stats["calm"] == 0


@pytest.mark.integration
def test_turn_applies_consequence_and_advances_arc(
    engine: TurnEngine, graph_store: GraphStore
) -> None:
    result = engine.take_turn("I'll help him.", "help")
    assert not result.paused
    assert result.consequence is not None
    assert result.consequence.arc_stage == "first step"
    assert result.consequence.applied == {"courage": 5, "trust": 5}

    second = engine.take_turn("I feel a bit anxious, I'll just watch.", "wait")
    assert second.consequence is not None and second.consequence.arc_stage is None
    assert second.assessment.level is DistressLevel.LOW

    player = graph_store.find_one("Player", player_id="ava")
    assert player is not None and player.properties["stat_courage"] == 55
    event = graph_store.find_one("StoryEvent", event_id="ava:t2:wait")
    assert event is not None
    causes = graph_store.relationships(event.id, "CAUSED", direction="in")
    assert [graph_store.get_node(r.start).properties["event_id"] for r in causes] == ["ava:t1:help"]
    assert engine.history() == [(1, DistressLevel.NONE), (2, DistressLevel.LOW)]


def test_crisis_pauses_the_story(engine: TurnEngine, graph_store: GraphStore) -> None:
    result = engine.take_turn("I want to hurt myself", "wait")
    assert result.paused and result.consequence is None
    assert result.assessment.intervention is Intervention.PAUSE_AND_SUPPORT
    assert engine.offered == support_choice_set()
    assert graph_store.find_nodes("StoryEvent") == []


def test_only_offered_choices_can_be_taken(engine: TurnEngine) -> None:
    with pytest.raises(ValueError, match="not on offer"):
        engine.take_turn("hello", "fly-away")


def test_new_scene_replaces_choices(engine: TurnEngine) -> None:
    offered = engine.set_scene([WAIT, REST])
    assert offered.ids() == ["wait", "rest"]
    assert engine.offered is offered
