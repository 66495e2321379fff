"""Story arcs, their progression, and conflicts between arcs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Optional, List
import itertools


class ArcScale(Enum):
    PERSONAL = 1
    CHARACTER = 2
    WORLD = 3


class ArcStatus(Enum):
    ACTIVE = "active"
    RESOLVED = "resolved"
    ABANDONED = "abandoned"


@dataclass
class Arc:
    arc_id: str
    title: str
    stages: List[str]
    scale: ArcScale = ArcScale.PERSONAL
    priority: int = 0
    stage_index: int = 0
    status: ArcStatus = ArcStatus.ACTIVE
    claims: dict[str, str] = field(default_factory=dict)
    yielded: dict[str, str] = field(default_factory=dict)
    event_ids: List[str] = field(default_factory=list)

    @property
    def current_stage(self) -> str:
        return self.stages[self.stage_index]

    @property
    def progress(self) -> float:
        if self.status is ArcStatus.RESOLVED:
            return 1.0
        return self.stage_index / len(self.stages)


@dataclass(frozen=True)
class ArcConflict:
    subject: str
    first: str
    second: str
    first_outcome: str
    second_outcome: str


class ArcManager:
    def __init__(self) -> None:
        self._arcs: dict[str, Arc] = {}

    def create(
        self,
        arc_id: str,
        title: str,
        stages: list[str],
        scale: ArcScale = ArcScale.PERSONAL,
        priority: int = 0,
        claims: dict[str, str] = {},
    ) -> Arc:
        if arc_id in self._arcs:
            raise ValueError(f"arc {arc_id!r} already exists")
        if len(stages) < 2:
            raise ValueError("an arc needs at least two stages")
        arc = Arc(arc_id, title, list(stages), scale, priority, claims=dict(claims))
        self._arcs[arc_id] = arc
        return arc

    def get(self, arc_id: str) -> Optional[Arc]:
        return self._arcs.get(arc_id)

    def title(self, arc_id: str) -> str:
        return self._arcs.get(arc_id).title

    def advance(self, arc_id: str, event_id: Optional[str] = None) -> str:
        """Move an arc to its next stage; the last stage resolves it."""
        arc = self._arcs[arc_id]
        if arc.status is not ArcStatus.ACTIVE:
            raise ValueError(f"arc {arc_id!r} is {arc.status.value}")
        if event_id is not None:
            arc.event_ids.append(event_id)
        if arc.stage_index + 1 >= len(arc.stages):
            arc.status = ArcStatus.RESOLVED
        else:
            arc.stage_index += 1
        return arc.current_stage

    def abandon(self, arc_id: str) -> None:
        arc = self._arcs[arc_id]
        arc.status = ArcStatus.ABANDONED

    def active(self, scale: Optional[ArcScale] = None) -> list[Arc]:
        return [
            a
            for a in self._arcs.values()
            if a.status is ArcStatus.ACTIVE and (scale is None or a.scale is scale)
        ]

    def detect_conflicts(self) -> list[ArcConflict]:
        """Active arcs that drive the same subject towards different outcomes."""
        conflicts = []
        arcs = sorted(self.active(), key=lambda a: a.arc_id)
        for l, r in itertools.combinations(arcs, 2):
            for subject in sorted(l.claims.keys() & r.claims.keys()):
                mine, theirs = l.claims[subject], r.claims[subject]
                if mine != theirs:
                    conflicts.append(ArcConflict(subject, l.arc_id, r.arc_id, mine, theirs))
        return conflicts

    def resolve_conflicts(self) -> list[ArcConflict]:
        """The higher-priority (then larger-scale) arc keeps its claim; the other yields it."""
        resolved = self.detect_conflicts()
        for conflict in resolved:
            first, second = self._arcs[conflict.first], self._arcs[conflict.second]
            if (first.priority, first.scale.value) >= (second.priority, second.scale.value):
                loser = second
            else:
                loser = first
            outcome = loser.claims.pop(conflict.subject, None)
            if outcome is not None:
                loser.yielded[conflict.subject] = outcome
        return resolved

    def __iter__(self):
        return iter(sorted(self._arcs.values(), key=lambda a: a.arc_id))
