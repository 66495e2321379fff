"""Narrative coherence: contradiction detection between facts and timeline checks."""

from components.narrative_coherence.contradictions import Contradiction, ContradictionDetector
from components.narrative_coherence.facts import Fact, FactStore
from components.narrative_coherence.timeline import TimelineChecker, TimelineIssue

__all__ = [
    "Contradiction",
    "ContradictionDetector",
    "Fact",
    "FactStore",
    "TimelineChecker",
    "TimelineIssue",
]
