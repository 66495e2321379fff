"""In-memory property-graph store.

TTA persists story state in Neo4j. For local development and tests this module provides a
small, dependency-free stand-in with the same vocabulary: labelled nodes, typed directed
relationships, parameterised ``MATCH`` queries and transactions that roll back on error.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["out", "in", "both"]

_MATCH_RE = re.compile(
    r"^\s*MATCH\s+\((?P<var>\w+):(?P<label>\w+)(?:\s*\{(?P<props>[^}]*)\})?\)"
    r"\s+RETURN\s+(?P<ret>\w+)\s*$",
    re.IGNORECASE,
)
_PROP_RE = re.compile(r"^\s*(?P<key>\w+)\s*:\s*\$(?P<param>\w+)\s*$")
_REL_TYPE_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class GraphError(Exception):
    """Base class for graph store errors."""


class NodeNotFoundError(GraphError):
    """Raised when a node id does not exist."""

    def __init__(self, node_id: int) -> None:
        super().__init__(f"node {node_id} does not exist")
        self.node_id = node_id


class QueryError(GraphError):
    """Raised for queries outside the supported subset."""


class TransactionError(GraphError):
    """Raised for invalid transaction usage."""


@dataclass
class Node:
    id: int
    labels: set[str]
    properties: dict[str, Any] = field(default_factory=dict)

    def has_label(self, label: str) -> bool:
        return label in self.labels


@dataclass
class Relationship:
    id: int
    type: str
    start: int
    end: int
    properties: dict[str, Any] = field(default_factory=dict)


class GraphStore:
    """A tiny property graph with undo-journal based transactions."""

    def __init__(self) -> None:
        self._nodes: dict[int, Node] = {}
        self._rels: dict[int, Relationship] = {}
        self._ids = itertools.count(1)
        self._journal: list[Callable[[], object]] | None = None

    # -- nodes -----------------------------------------------------------------------------

    def create_node(self, *labels: str, **properties: Any) -> Node:
        if not labels:
            raise GraphError("a node needs at least one label")
        node = Node(next(self._ids), set(labels), dict(properties))
        self._nodes[node.id] = node
        self._record(lambda: self._nodes.pop(node.id, None))
        return node

    def get_node(self, node_id: int) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise NodeNotFoundError(node_id) from None

    def set_properties(self, node_id: int, **properties: Any) -> Node:
        node = self.get_node(node_id)
        previous = dict(node.properties)
        node.properties.update(properties)
        self._record(lambda: self._replace_properties(node, previous))
        return node

    def delete_node(self, node_id: int, *, detach: bool = False) -> None:
        node = self.get_node(node_id)
        attached = [r for r in self._rels.values() if node_id in (r.start, r.end)]
        if attached and not detach:
            raise GraphError(f"node {node_id} still has {len(attached)} relationship(s)")
        for rel in attached:
            self.delete_relationship(rel.id)
        del self._nodes[node_id]
        self._record(lambda: self._nodes.__setitem__(node_id, node))

    @property
    def node_count(self) -> int:
        return len(self._nodes)

    # -- relationships ---------------------------------------------------------------------

    def relate(self, start_id: int, rel_type: str, end_id: int, **properties: Any) -> Relationship:
        self.get_node(start_id)
        self.get_node(end_id)
        if not _REL_TYPE_RE.match(rel_type):
            raise GraphError(f"relationship type {rel_type!r} must be UPPER_SNAKE_CASE")
        rel = Relationship(next(self._ids), rel_type, start_id, end_id, dict(properties))
        self._rels[rel.id] = rel
        self._record(lambda: self._rels.pop(rel.id, None))
        return rel

    def delete_relationship(self, rel_id: int) -> None:
        rel = self._rels.pop(rel_id, None)
        if rel is None:
            raise GraphError(f"relationship {rel_id} does not exist")
        self._record(lambda: self._rels.__setitem__(rel_id, rel))

    def relationships(
        self, node_id: int, rel_type: str | None = None, direction: Direction = "out"
    ) -> list[Relationship]:
        self.get_node(node_id)
        found: list[Relationship] = []
        for rel in self._rels.values():
            if rel_type is not None and rel.type != rel_type:
                continue
            outgoing = rel.start == node_id and direction in ("out", "both")
            incoming = rel.end == node_id and direction in ("in", "both")
            if outgoing or incoming:
                found.append(rel)
        return found

    def neighbours(
        self, node_id: int, rel_type: str | None = None, direction: Direction = "out"
    ) -> list[Node]:
        result: list[Node] = []
        for rel in self.relationships(node_id, rel_type, direction):
            other = rel.end if rel.start == node_id else rel.start
            result.append(self._nodes[other])
        return result

    # -- queries ---------------------------------------------------------------------------

    def find_nodes(self, label: str, **where: Any) -> list[Node]:
        return [
            node
            for node in self._nodes.values()
            if node.has_label(label)
            and all(node.properties.get(key) == value for key, value in where.items())
        ]

    def find_one(self, label: str, **where: Any) -> Node | None:
        matches = self.find_nodes(label, **where)
        if len(matches) > 1:
            raise QueryError(f"expected at most one {label} node, found {len(matches)}")
        return matches[0] if matches else None

    def run(self, query: str, params: Mapping[str, Any] | None = None) -> list[Node]:
        """Run ``MATCH (n:Label {key: $param}) RETURN n``.

        Only parameters are accepted as property values, which keeps user-provided text out
        of the query string itself.
        """
        match = _MATCH_RE.match(query)
        if match is None:
            raise QueryError(f"unsupported query: {query!r}")
        if match["ret"] != match["var"]:
            raise QueryError(f"RETURN must name the matched variable {match['var']!r}")
        params = params or {}
        where: dict[str, Any] = {}
        props = match["props"]
        if props and props.strip():
            for part in props.split(","):
                prop = _PROP_RE.match(part)
                if prop is None:
                    raise QueryError(f"property {part.strip()!r} must use a $parameter")
                if prop["param"] not in params:
                    raise QueryError(f"missing parameter ${prop['param']}")
                where[prop["key"]] = params[prop["param"]]
        return self.find_nodes(match["label"], **where)

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[GraphStore]:
        """Apply changes atomically: any exception undoes everything done in the block."""
        if self._journal is not None:
            raise TransactionError("nested transactions are not supported")
        self._journal = []
        try:
            yield self
        except BaseException:
            journal, self._journal = self._journal, None
            for undo in reversed(journal):
                undo()
            raise
        self._journal = None

    @property
    def in_transaction(self) -> bool:
        return self._journal is not None

    def _record(self, undo: Callable[[], object]) -> None:
        if self._journal is not None:
            self._journal.append(undo)

    @staticmethod
    def _replace_properties(node: Node, properties: dict[str, Any]) -> None:
        node.properties.clear()
        node.properties.update(properties)
