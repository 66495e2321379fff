"""Narrative arc orchestration: causal story graph, arc progression and conflicts."""

from components.narrative_arc_orchestrator.arcs import (
    Arc,
    ArcConflict,
    ArcManager,
    ArcScale,
    ArcStatus,
)
from components.narrative_arc_orchestrator.causal_graph import (
    CausalCycleError,
    CausalGraph,
    StoryEvent,
)
from components.narrative_arc_orchestrator.orchestrator import NarrativeArcOrchestrator

__all__ = [
    "Arc",
    "ArcConflict",
    "ArcManager",
    "ArcScale",
    "ArcStatus",
    "CausalCycleError",
    "CausalGraph",
    "NarrativeArcOrchestrator",
    "StoryEvent",
]
