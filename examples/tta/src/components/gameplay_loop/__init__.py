"""Gameplay loop: turn engine, choice architecture and consequences."""

from components.gameplay_loop.choices import Choice, ChoiceSet, build_choice_set
from components.gameplay_loop.consequences import Consequence, ConsequenceSystem, PlayerState
from components.gameplay_loop.engine import TurnEngine, TurnResult

__all__ = [
    "Choice",
    "ChoiceSet",
    "Consequence",
    "ConsequenceSystem",
    "PlayerState",
    "TurnEngine",
    "TurnResult",
    "build_choice_set",
]
