"""Timeline consistency: causes before effects, one place at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from components.narrative_arc_orchestrator import CausalGraph
from components.narrative_coherence.facts import Fact


@dataclass(frozen=True)
class TimelineIssue:
    kind: str
    detail: str


class TimelineChecker:
    def __init__(self, location_predicate: str = "location") -> None:
        self._location = location_predicate

    def check_causality(self, graph: CausalGraph) -> list[TimelineIssue]:
        issues = []
        for cause, effect in graph.temporal_violations():
            issues.append(TimelineIssue("effect-before-cause", f"{effect} happens before {cause}"))
        return issues

    def check_locations(self, facts: list[Fact]) -> list[TimelineIssue]:
        """A subject cannot be in two places during overlapping turns."""
        places: dict[str, list[Fact]] = defaultdict(list)
        for fact in facts:
            if fact.predicate == self._location:
                places[fact.subject].append(fact)
        issues: list[TimelineIssue] = []
        for subject in sorted(places):
            seen: list[Fact] = []
            for fact in sorted(places[subject], key=lambda f: (f.turn, f.value)):
                for earlier in seen:
                    if earlier.value != fact.value and earlier.overlaps(fact):
                        issues.append(
                            TimelineIssue(
                                "two-places",
                                f"{subject} is in {earlier.value} and {fact.value} at turn {fact.turn}",
                            )
                        )
                seen.append(fact)
        return issues

    def check_future_references(self, facts: list[Fact], current_turn: int) -> list[TimelineIssue]:
        return [
            TimelineIssue("future-fact", f"{f.subject}.{f.predicate} is set on turn {f.turn}")
            for f in facts
            if f.turn > current_turn
        ]

    def check(
        self, graph: CausalGraph, facts: list[Fact], current_turn: int
    ) -> list[TimelineIssue]:
        return (
            self.check_causality(graph)
            + self.check_locations(facts)
            + self.check_future_references(facts, current_turn)
        )
