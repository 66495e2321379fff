"""Character arcs: personal growth tied to narrative arcs."""

from __future__ import annotations

from dataclasses import dataclass

from components.character_arc_manager.characters import Character, CharacterRoster
from components.character_arc_manager.consistency import (
    ConsistencyViolation,
    PersonalityConsistencyChecker,
)
from components.narrative_arc_orchestrator import ArcScale, NarrativeArcOrchestrator


@dataclass(frozen=True)
class GrowthStep:
    stage: str
    trait: str
    delta: float


class CharacterArcManager:
    """Links a character to a CHARACTER-scale arc; each stage reached shifts a trait."""

    def __init__(
        self,
        roster: CharacterRoster,
        orchestrator: NarrativeArcOrchestrator,
        checker: PersonalityConsistencyChecker | None = None,
    ) -> None:
        self.roster = roster
        self._orchestrator = orchestrator
        self._checker = checker or PersonalityConsistencyChecker()
        self._growth: dict[str, list[GrowthStep]] = {}
        self._arc_of: dict[str, str] = {}

    def start_arc(self, character: str, arc_id: str, title: str, growth: list[GrowthStep]) -> None:
        self.roster.get(character)
        if character in self._arc_of:
            raise ValueError(f"{character} already has an active arc")
        stages = ["introduction"] + [step.stage for step in growth]
        self._orchestrator.create_arc(arc_id, title, stages, ArcScale.CHARACTER)
        self._growth[arc_id] = list(growth)
        self._arc_of[character] = arc_id

    def progress(self, character: str, event_id: str | None = None) -> Character:
        arc_id = self._arc_of[character]
        arc = self._orchestrator.arcs.get(arc_id)
        previous = arc.current_stage if arc is not None else None
        stage = self._orchestrator.advance_arc(arc_id, event_id)
        person = self.roster.get(character)
        for step in self._growth[arc_id]:
            if step.stage == stage and stage != previous:
                person.shift(step.trait, step.delta)
        self.roster.save(person)
        return person

    def act(self, character: str, actions: list[str]) -> list[ConsistencyViolation]:
        """Validate actions for a character; a calm character panicking gets flagged."""
        return self._checker.check(self.roster.get(character), actions)

    def arc_for(self, character: str) -> str | None:
        return self._arc_of.get(character)
