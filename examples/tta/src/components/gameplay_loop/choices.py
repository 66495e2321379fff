"""Choice architecture: which options a player is offered on a turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

from components.therapeutic_systems import DistressLevel

MAX_CHOICES = 4

BREATHING_CHOICE_ID = "pause-breathe"


@dataclass(frozen=True)
class Choice:
    choice_id: str
    text: str
    effects: Dict[str, int] = field(default_factory=dict)
    arc_id: str | None = None
    advances_arc: bool = False
    intense: bool = False
    safe: bool = False


BREATHING_CHOICE = Choice(
    BREATHING_CHOICE_ID,
    "Pause for a moment and take a slow breath.",
    effects={"calm": 10},
    safe=True,
)

SUPPORT_CHOICE = Choice(
    "see-support",
    "Step out of the story and look at support resources together.",
    safe=True,
)


@dataclass(frozen=True)
class ChoiceSet:
    choices: tuple[Choice, ...]

    def get(self, choice_id: str) -> Choice | None:
        for choice in self.choices:
            if choice.choice_id == choice_id:
                return choice
        return None

    def ids(self) -> list[str]:
        return [c.choice_id for c in self.choices]


def build_choice_set(candidates: list[Choice], distress: DistressLevel) -> ChoiceSet:
    """Select up to four choices, softening the set when the player is distressed.

    From MODERATE distress upwards intense choices are withheld and a safe pause option is
    always offered (first, so it is easy to find).
    """
    if len(set(c.choice_id for c in candidates)) != len(candidates):
        raise ValueError("choice ids must be unique")
    pool = list(candidates)
    if distress >= DistressLevel.MODERATE:
        pool = [c for c in pool if not c.intense]
        if not any(c.safe for c in pool):
            pool.insert(0, BREATHING_CHOICE)
    if len(pool) < 2:
        raise ValueError("a turn must offer at least two choices")
    return ChoiceSet(tuple(pool[:MAX_CHOICES]))


def support_choice_set() -> ChoiceSet:
    """The only choices offered while a turn is paused for the player's safety."""
    return ChoiceSet((BREATHING_CHOICE, SUPPORT_CHOICE))
