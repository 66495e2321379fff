"""Facts established by the story, persisted in the graph store."""

from __future__ import annotations

from dataclasses import dataclass

from components.neo4j_component import GraphStore, Node


@dataclass(frozen=True)
class Fact:
    """``subject`` has ``predicate`` = ``value`` from ``turn`` until ``until`` (exclusive)."""

    subject: str
    predicate: str
    value: str
    turn: int
    until: int | None = None
    source_event: str | None = None

    def __post_init__(self) -> None:
        if self.until is not None and self.until <= self.turn:
            raise ValueError(f"fact {self.subject}.{self.predicate} ends before it starts")

    def holds_at(self, turn: int) -> bool:
        return self.turn <= turn and (self.until is None or turn < self.until)

    def overlaps(self, other: Fact) -> bool:
        ends_before_other = self.until is not None and self.until <= other.turn
        starts_after_other = other.until is not None and other.until <= self.turn
        return not (ends_before_other or starts_after_other)


class FactStore:
    """Reads and writes ``Fact`` nodes linked to their subject's ``Entity`` node."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store

    def _entity(self, name: str) -> Node:
        existing = self._store.find_one("Entity", name=name)
        if existing is not None:
            return existing
        return self._store.create_node("Entity", name=name)

    def add(self, fact: Fact) -> Node:
        with self._store.transaction():
            entity = self._entity(fact.subject)
            node = self._store.create_node(
                "Fact",
                subject=fact.subject,
                predicate=fact.predicate,
                value=fact.value,
                turn=fact.turn,
                until=fact.until,
                source_event=fact.source_event,
            )
            self._store.relate(entity.id, "HAS_FACT", node.id)
        return node

    def all(self) -> list[Fact]:
        facts = [self._from_node(node) for node in self._store.find_nodes("Fact")]
        return sorted(facts, key=lambda f: (f.turn, f.subject, f.predicate, f.value))

    def about(self, subject: str) -> list[Fact]:
        entity = self._store.find_one("Entity", name=subject)
        if entity is None:
            return []
        nodes = self._store.neighbours(entity.id, "HAS_FACT")
        return sorted((self._from_node(n) for n in nodes), key=lambda f: (f.turn, f.predicate))

    def value_at(self, subject: str, predicate: str, turn: int) -> str | None:
        for fact in reversed(self.about(subject)):
            if fact.predicate == predicate and fact.holds_at(turn):
                return fact.value
        return None

    @staticmethod
    def _from_node(node: Node) -> Fact:
        props = node.properties
        return Fact(
            props["subject"],
            props["predicate"],
            props["value"],
            props["turn"],
            props.get("until"),
            props.get("source_event"),
        )
