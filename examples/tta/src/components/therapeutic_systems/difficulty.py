"""Adaptive difficulty: keep challenges in the player's zone of proximal development."""

from __future__ import annotations

from collections import deque
from enum import IntEnum

from components.therapeutic_systems.safety import DistressLevel


class DifficultyLevel(IntEnum):
    GENTLE = 1
    EASY = 2
    STANDARD = 3
    CHALLENGING = 4


class AdaptiveDifficulty:
    """Adjusts difficulty from recent success rate, never raising it while distressed."""

    def __init__(
        self,
        start: DifficultyLevel = DifficultyLevel.STANDARD,
        window: int = 5,
        raise_above: float = 0.8,
        lower_below: float = 0.4,
    ) -> None:
        if not 0 <= lower_below < raise_above <= 1:
            raise ValueError("thresholds must satisfy 0 <= lower_below < raise_above <= 1")
        self.level = start
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._raise_above = raise_above
        self._lower_below = lower_below

    @property
    def success_rate(self) -> float | None:
        if not self._outcomes:
            return None
        return sum(self._outcomes) / len(self._outcomes)

    def record(
        self, succeeded: bool, distress: DistressLevel = DistressLevel.NONE
    ) -> DifficultyLevel:
        self._outcomes.append(succeeded)
        if distress >= DistressLevel.HIGH:
            self.level = DifficultyLevel.GENTLE
            self._outcomes.clear()
            return self.level
        rate = self.success_rate
        full_window = len(self._outcomes) == self._outcomes.maxlen
        if rate is not None and full_window:
            if rate > self._raise_above and distress < DistressLevel.MODERATE:
                self.level = DifficultyLevel(min(self.level + 1, DifficultyLevel.CHALLENGING))
                self._outcomes.clear()
            elif rate < self._lower_below:
                self.level = DifficultyLevel(max(self.level - 1, DifficultyLevel.GENTLE))
                self._outcomes.clear()
        return self.level

    def hint_budget(self) -> int:
        """Number of hints offered per challenge at the current level."""
        return {
            DifficultyLevel.GENTLE: 3,
            DifficultyLevel.EASY: 2,
            DifficultyLevel.STANDARD: 1,
            DifficultyLevel.CHALLENGING: 0,
        }[self.level]
