"""Emotional safety monitoring of player input.

The monitor scores each player message for distress signals, tracks the trend over recent
turns and decides when the game must intervene (slow down, offer grounding, or pause and
show support resources). Assessments are stored as facts so that the narrative stays
consistent with what the player has shared.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from enum import Enum, IntEnum

from components.narrative_coherence import Fact, FactStore
from components.neo4j_component import GraphStore

# Phrase lists are intentionally small and conservative; the production system uses a
# reviewed lexicon maintained with the clinical advisors.
SIGNALS: dict[str, int] = {
    "hopeless": 3,
    "worthless": 3,
    "can't go on": 4,
    "hurt myself": 5,
    "no way out": 4,
    "panic": 2,
    "overwhelmed": 2,
    "anxious": 1,
    "scared": 1,
    "alone": 1,
}
CALMING = ("better", "calmer", "safe", "okay", "thank")


class DistressLevel(IntEnum):
    NONE = 0
    LOW = 1
    MODERATE = 2
    HIGH = 3
    CRISIS = 4


class Intervention(Enum):
    NONE = "none"
    SLOW_PACING = "slow_pacing"
    GROUNDING = "grounding"
    PAUSE_AND_SUPPORT = "pause_and_support"


@dataclass(frozen=True)
class SafetyAssessment:
    turn: int
    score: int
    level: DistressLevel
    intervention: Intervention
    matched: tuple[str, ...]


def score_text(text: str) -> tuple[int, tuple[str, ...]]:
    lowered = re.sub(r"\s+", " ", text.lower())
    matched = tuple(sorted(p for p in SIGNALS if p in lowered))
    score = sum(SIGNALS[p] for p in matched)
    if score and any(word in lowered for word in CALMING):
        score = max(0, score - 1)
    return score, matched


def level_for(score: int) -> DistressLevel:
    if score >= 5:
        return DistressLevel.CRISIS
    if score >= 4:
        return DistressLevel.HIGH
    if score >= 2:
        return DistressLevel.MODERATE
    if score >= 1:
        return DistressLevel.LOW
    return DistressLevel.NONE


class EmotionalSafetyMonitor:
    def __init__(self, store: GraphStore, player_id: str, window: int = 3) -> None:
        self._facts = FactStore(store)
        self._player = player_id
        self._recent: deque[DistressLevel] = deque(maxlen=window)
        self.history: list[SafetyAssessment] = []

    @property
    def current_level(self) -> DistressLevel:
        return self.history[-1].level if self.history else DistressLevel.NONE

    def assess(self, turn: int, text: str) -> SafetyAssessment:
        score, matched = score_text(text)
        level = level_for(score)
        self._recent.append(level)
        assessment = SafetyAssessment(turn, score, level, self._intervention(level), matched)
        self.history.append(assessment)
        if level >= DistressLevel.MODERATE:
            self._facts.add(Fact(self._player, "feels", f"distress:{level.name.lower()}", turn))
        return assessment

    def _intervention(self, level: DistressLevel) -> Intervention:
        if level is DistressLevel.CRISIS:
            return Intervention.PAUSE_AND_SUPPORT
        sustained = len(self._recent) == self._recent.maxlen and all(
            lvl >= DistressLevel.MODERATE for lvl in self._recent
        )
        if level is DistressLevel.HIGH or sustained:
            return Intervention.GROUNDING
        if level is DistressLevel.MODERATE:
            return Intervention.SLOW_PACING
        return Intervention.NONE

    def trend(self) -> int:
        """Positive when distress is rising over the window, negative when easing."""
        if len(self._recent) < 2:
            return 0
        return int(self._recent[-1]) - int(self._recent[0])
