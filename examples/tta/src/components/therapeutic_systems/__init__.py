"""Therapeutic systems: emotional safety monitoring and adaptive difficulty."""

from components.therapeutic_systems.difficulty import AdaptiveDifficulty, DifficultyLevel
from components.therapeutic_systems.safety import (
    DistressLevel,
    EmotionalSafetyMonitor,
    Intervention,
    SafetyAssessment,
)

__all__ = [
    "AdaptiveDifficulty",
    "DifficultyLevel",
    "DistressLevel",
    "EmotionalSafetyMonitor",
    "Intervention",
    "SafetyAssessment",
]
