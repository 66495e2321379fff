"""Directed acyclic graph of story events linked by cause and effect."""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Optional


class CausalCycleError(ValueError):
    """Raised when a causal link would make an event (indirectly) cause itself."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("causal cycle: " + " -> ".join(cycle))
        self.cycle = cycle


@dataclass
class StoryEvent:
    event_id: str
    description: str
    turn: int
    arc_id: Optional[str] = None
    tags: frozenset[str] = field(default_factory=frozenset)


class CausalGraph:
    def __init__(self) -> None:
        self._events: dict[str, StoryEvent] = {}
        self._effects: dict[str, set[str]] = {}
        self._causes: dict[str, set[str]] = {}

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._events

    def __len__(self) -> int:
        return len(self._events)

    def add_event(self, event: StoryEvent) -> None:
        if event.event_id in self._events:
            raise ValueError(f"event {event.event_id!r} already exists")
        self._events[event.event_id] = event
        self._effects[event.event_id] = set()
        self._causes[event.event_id] = set()

    def get(self, event_id: str) -> Optional[StoryEvent]:
        return self._events.get(event_id)

    def describe(self, event_id: str) -> str:
        event = self.get(event_id)
        return f"[turn {event.turn}] {event.description}"

    def explain(self, cause_id: str, effect_id: str) -> list[str]:
        """Describe the chain of events through which ``cause_id`` led to ``effect_id``."""
        return [self.describe(event_id) for event_id in self._path(cause_id, effect_id)]

    def add_cause(self, cause_id: str, effect_id: str) -> None:
        for event_id in (cause_id, effect_id):
            if event_id not in self._events:
                raise KeyError(f"unknown event {event_id!r}")
        if cause_id == effect_id:
            raise CausalCycleError([cause_id, effect_id])
        path = self._path(effect_id, cause_id)
        if path is not None:
            raise CausalCycleError(path + [effect_id])
        self._effects[cause_id].add(effect_id)
        self._causes[effect_id].add(cause_id)

    def _path(self, start: str, target: str) -> Optional[list[str]]:
        """Breadth-first search for a path of effects from ``start`` to ``target``."""
        previous: dict[str, str] = {}
        queue = deque([start])
        seen = {start}
        while queue:
            current = queue.popleft()
            if current == target:
                path = [current]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return list(reversed(path))
            for nxt in sorted(self._effects[current]):
                if nxt not in seen:
                    seen.add(nxt)
                    previous[nxt] = current
                    queue.append(nxt)
        return None

    def causes_of(self, event_id: str) -> list[str]:
        return sorted(self._causes[event_id])

    def effects_of(self, event_id: str) -> list[str]:
        return sorted(self._effects[event_id])

    def ancestors(self, event_id: str) -> set[str]:
        found: set[str] = set()
        stack = list(self._causes[event_id])
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(self._causes[current])
        return found

    def topological_order(self) -> list[StoryEvent]:
        """Kahn's algorithm; ties are broken by turn, then event id."""
        indegree = {eid: len(causes) for eid, causes in self._causes.items()}
        ready = [(self._events[e].turn, e) for e, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        ordered: list[StoryEvent] = []
        while ready:
            _, event_id = heapq.heappop(ready)
            ordered.append(self._events[event_id])
            for effect in self._effects[event_id]:
                indegree[effect] -= 1
                if indegree[effect] == 0:
                    heapq.heappush(ready, (self._events[effect].turn, effect))
        if len(ordered) != len(self._events):
            stuck = sorted(e for e, d in indegree.items() if d > 0)
            raise CausalCycleError(stuck)
        return ordered

    def temporal_violations(self) -> list[tuple[str, str]]:
        """Cause/effect pairs where the effect happens on an earlier turn than its cause."""
        violations = []
        for cause, effects in sorted(self._effects.items()):
            for effect in sorted(effects):
                if self._events[effect].turn < self._events[cause].turn:
                    violations.append((cause, effect))
        return violations

    @classmethod
    def from_edges(cls, events: list[StoryEvent], edges: list[tuple[str, str]]) -> CausalGraph:
        graph = cls()
        for event in events:
            graph.add_event(event)
        for cause, effect in edges:
            graph.add_cause(cause, effect)
        return graph
