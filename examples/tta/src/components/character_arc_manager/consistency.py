"""Checks that what a character does or says fits their personality."""

from __future__ import annotations

from dataclasses import dataclass

from components.character_arc_manager.characters import Character
from components.llm import LLMClient, PromptTemplate

# Each action tag lists trait ranges (inclusive) a character must be inside to act that way.
ACTION_REQUIREMENTS: dict[str, dict[str, tuple[float, float]]] = {
    "confront": {"agreeableness": (0.0, 0.7), "extraversion": (0.3, 1.0)},
    "comfort": {"agreeableness": (0.4, 1.0)},
    "plan": {"conscientiousness": (0.4, 1.0)},
    "improvise": {"openness": (0.5, 1.0)},
    "panic": {"neuroticism": (0.6, 1.0)},
    "speech": {"extraversion": (0.5, 1.0)},
}

DIALOGUE_TEMPLATE = PromptTemplate(
    system="You write one line of dialogue for $name. Personality: $traits. Mood: $mood.",
    user="Situation: $situation\nWrite $name's line, in character, under 40 words.",
)


@dataclass(frozen=True)
class ConsistencyViolation:
    character: str
    action: str
    trait: str
    value: float
    allowed: tuple[float, float]


class PersonalityConsistencyChecker:
    def __init__(self, llm: LLMClient | None = None, tolerance: float = 0.05) -> None:
        self._llm = llm
        self._tolerance = tolerance

    def check(self, character: Character, actions: list[str]) -> list[ConsistencyViolation]:
        violations: list[ConsistencyViolation] = []
        for action in actions:
            requirements = ACTION_REQUIREMENTS.get(action)
            if requirements is None:
                continue
            for trait, (low, high) in sorted(requirements.items()):
                value = character.traits[trait]
                if value < low - self._tolerance or value > high + self._tolerance:
                    violations.append(
                        ConsistencyViolation(character.name, action, trait, value, (low, high))
                    )
        return violations

    def describe(self, character: Character) -> str:
        adjectives = []
        for trait, value in sorted(character.traits.items()):
            if value >= 0.7:
                adjectives.append(f"high {trait}")
            elif value <= 0.3:
                adjectives.append(f"low {trait}")
        return ", ".join(adjectives) or "balanced"

    def dialogue(self, character: Character, situation: str) -> str:
        if self._llm is None:
            raise RuntimeError("dialogue generation needs an LLM client")
        completion = self._llm.complete(
            DIALOGUE_TEMPLATE,
            {
                "name": character.name,
                "traits": self.describe(character),
                "mood": character.mood,
                "situation": situation,
            },
        )
        return completion.text.strip().strip('"')
