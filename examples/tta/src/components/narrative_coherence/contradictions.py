"""Detects facts that cannot all be true."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Optional

from components.narrative_coherence.facts import Fact

DEFAULT_TERMINAL_VALUES = {"status": frozenset({"dead", "destroyed"})}


@dataclass(frozen=True)
class Contradiction:
    first: Fact
    second: Fact
    reason: str


class ContradictionDetector:
    """Finds conflicting values for the same subject/predicate and facts after a terminal one.

    Predicates listed in ``multi_valued`` may legitimately hold several values at once
    (e.g. ``knows``), so only single-valued predicates are compared.
    """

    def __init__(
        self,
        multi_valued: Iterable[str] = ("knows", "owns", "feels"),
        terminal_values: Mapping[str, frozenset[str]] = DEFAULT_TERMINAL_VALUES,
    ) -> None:
        self._multi_valued = frozenset(multi_valued)
        self._terminal = dict(terminal_values)

    def check(self, facts: Iterable[Fact]) -> list[Contradiction]:
        by_key: dict[tuple[str, str], list[Fact]] = defaultdict(list)
        by_subject: dict[str, list[Fact]] = defaultdict(list)
        for fact in facts:
            by_key[(fact.subject, fact.predicate)].append(fact)
            by_subject[fact.subject].append(fact)

        found: list[Contradiction] = []
        for (subject, predicate), group in sorted(by_key.items()):
            if predicate in self._multi_valued:
                continue
            for a, b in itertools.combinations(sorted(group, key=lambda f: f.turn), 2):
                if a.value != b.value and a.overlaps(b):
                    reason = f"{subject}.{predicate} is both {a.value!r} and {b.value!r}"
                    found.append(Contradiction(a, b, reason))
        for subject, subject_facts in sorted(by_subject.items()):
            end = self._terminal_fact(subject_facts)
            if end is None:
                continue
            for fact in subject_facts:
                if fact.turn > end.turn and fact is not end:
                    reason = f"{subject} is {end.value} since turn {end.turn}"
                    found.append(Contradiction(end, fact, reason))
        return found

    def _terminal_fact(self, facts: list[Fact]) -> Optional[Fact]:
        terminal = [f for f in facts if f.value in self._terminal.get(f.predicate, frozenset())]
        return min(terminal, key=lambda f: f.turn) if terminal else None

    def is_consistent(self, facts: Iterable[Fact], candidate: Fact) -> bool:
        """Would adding ``candidate`` introduce a contradiction involving it?"""
        return not any(candidate in (c.first, c.second) for c in self.check([*facts, candidate]))
