"""Character state, relationships, personality consistency and character arcs."""

from components.character_arc_manager.characters import Character, CharacterRoster
from components.character_arc_manager.consistency import (
    ConsistencyViolation,
    PersonalityConsistencyChecker,
)
from components.character_arc_manager.manager import CharacterArcManager

__all__ = [
    "Character",
    "CharacterArcManager",
    "CharacterRoster",
    "ConsistencyViolation",
    "PersonalityConsistencyChecker",
]
