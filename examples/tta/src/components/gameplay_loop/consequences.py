"""Applies the effects of a choice to player state and the story."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.gameplay_loop.choices import Choice
from components.narrative_arc_orchestrator import NarrativeArcOrchestrator, StoryEvent
from components.neo4j_component import GraphStore

STAT_MIN, STAT_MAX = 0, 100


@dataclass
class PlayerState:
    player_id: str
    stats: dict[str, int] = field(default_factory=lambda: {"calm": 50, "courage": 50, "trust": 50})
    last_event: str | None = None

    def apply(self, effects: dict[str, int]) -> dict[str, int]:
        """Apply stat deltas, clamped to 0..100; returns the deltas actually applied."""
        applied: dict[str, int] = {}
        for stat in effects.keys():
            delta = effects[stat]
            before = self.stats.get(stat, 50)
            after = min(STAT_MAX, max(STAT_MIN, before + delta))
            self.stats[stat] = after
            applied[stat] = after - before
        return applied


@dataclass(frozen=True)
class Consequence:
    turn: int
    choice_id: str
    event_id: str
    applied: dict[str, int]
    arc_stage: str | None = None


class ConsequenceSystem:
    def __init__(self, store: GraphStore, orchestrator: NarrativeArcOrchestrator) -> None:
        self._store = store
        self._orchestrator = orchestrator

    def apply(self, state: PlayerState, choice: Choice, turn: int) -> Consequence:
        applied = state.apply(choice.effects)
        event_id = f"{state.player_id}:t{turn}:{choice.choice_id}"
        causes = [state.last_event] if state.last_event else []
        event = StoryEvent(event_id, choice.text, turn, arc_id=choice.arc_id)
        self._orchestrator.record_event(event, causes)
        state.last_event = event_id
        stage = None
        if choice.advances_arc and choice.arc_id is not None:
            stage = self._orchestrator.advance_arc(choice.arc_id, event_id)
        player = self._store.find_one("Player", player_id=state.player_id)
        if player is None:
            player = self._store.create_node("Player", player_id=state.player_id)
        self._store.set_properties(player.id, **{f"stat_{k}": v for k, v in state.stats.items()})
        return Consequence(turn, choice.choice_id, event_id, applied, stage)
