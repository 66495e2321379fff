"""The turn engine: assess, offer choices, apply the chosen consequence."""

from __future__ import annotations

from dataclasses import dataclass

from components.gameplay_loop.choices import (
    Choice,
    ChoiceSet,
    build_choice_set,
    support_choice_set,
)
from components.gameplay_loop.consequences import Consequence, ConsequenceSystem, PlayerState
from components.narrative_arc_orchestrator import NarrativeArcOrchestrator
from components.neo4j_component import GraphStore
from components.therapeutic_systems import (
    AdaptiveDifficulty,
    EmotionalSafetyMonitor,
    Intervention,
    SafetyAssessment,
)


@dataclass(frozen=True)
class TurnResult:
    turn: int
    assessment: SafetyAssessment
    consequence: Consequence | None
    next_choices: ChoiceSet
    paused: bool = False


class TurnEngine:
    """Runs one player turn at a time.

    A turn with a crisis-level assessment is paused: no consequence is applied and the
    player is offered only a breathing pause and support resources.
    """

    def __init__(
        self,
        store: GraphStore,
        orchestrator: NarrativeArcOrchestrator,
        player_id: str,
        scene_choices: list[Choice],
    ) -> None:
        self.state = PlayerState(player_id)
        self.monitor = EmotionalSafetyMonitor(store, player_id)
        self.difficulty = AdaptiveDifficulty()
        self._consequences = ConsequenceSystem(store, orchestrator)
        self._scene = list(scene_choices)
        self.turn = 0
        self._offered = build_choice_set(self._scene, self.monitor.current_level)

    @property
    def offered(self) -> ChoiceSet:
        return self._offered

    def set_scene(self, choices: list[Choice]) -> ChoiceSet:
        self._scene = list(choices)
        self._offered = build_choice_set(self._scene, self.monitor.current_level)
        return self._offered

    def take_turn(self, player_text: str, choice_id: str) -> TurnResult:
        if choice_id not in self._offered.ids():
            raise ValueError(
                f"choice {choice_id!r} is not on offer ({', '.join(self._offered.ids())})"
            )
        self.turn += 1
        assessment = self.monitor.assess(self.turn, player_text)
        if assessment.intervention is Intervention.PAUSE_AND_SUPPORT:
            self._offered = support_choice_set()
            return TurnResult(self.turn, assessment, None, self._offered, paused=True)
        choice = self._offered.get(choice_id)
        consequence = self._consequences.apply(self.state, choice, self.turn)
        succeeded = sum(consequence.applied.values()) >= 0
        self.difficulty.record(succeeded, assessment.level)
        self._offered = build_choice_set(self._scene, assessment.level)
        return TurnResult(self.turn, assessment, consequence, self._offered)

    def history(self) -> list[tuple[int, str]]:
        return [(a.turn, a.level) for a in self.monitor.history]
