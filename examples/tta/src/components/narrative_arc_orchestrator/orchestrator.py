"""Keeps the causal graph and arcs in sync with the graph store and summarises arcs."""

from __future__ import annotations

from collections.abc import Iterable
import json
from components.neo4j_component import GraphStore
from components.llm import LLMClient, PromptTemplate
from components.narrative_arc_orchestrator.arcs import Arc, ArcManager, ArcScale
from components.narrative_arc_orchestrator.causal_graph import CausalGraph, StoryEvent


SUMMARY_TEMPLATE = PromptTemplate(
    user='Summarise the story arc "$title" (currently at stage: $stage) in two sentences.\n'
         'Events so far, in causal order:\n$events',
    system='You are the narrator of a therapeutic text adventure. Be gentle and concrete.',
)


class NarrativeArcOrchestrator:
    def __init__(self, store: GraphStore, llm: LLMClient | None = None) -> None:
        self.store = store
        self.llm = llm
        self.graph = CausalGraph()
        self.arcs = ArcManager()
        self._event_nodes: dict[str, int] = {}
        self._arc_nodes: dict[str, int] = {}

    def create_arc(self, arc_id: str, title: str, stages: list[str],
                   scale: ArcScale = ArcScale.PERSONAL, priority: int = 0) -> int:
        arc = self.arcs.create(arc_id, title, stages, scale, priority)
        node = self.store.create_node('Arc', arc_id=arc_id, title=title,
                                      stage=arc.current_stage, scale=scale.name)
        self._arc_nodes[arc_id] = node.id
        return node.id

    def record_event(self, event: StoryEvent, causes: Iterable[str] = ()) -> int:
        """Add an event to the causal graph and persist it; nothing is kept on failure."""
        causes = list(causes)
        missing = [c for c in causes if c not in self._event_nodes]
        if missing:
            raise KeyError(f"unknown cause event(s): {', '.join(missing)}")
        with self.store.transaction():
            node = self.store.create_node('StoryEvent', event_id=event.event_id, turn=event.turn,
                                          description=event.description)
            for cause in causes:
                self.store.relate(self._event_nodes[cause], 'CAUSED', node.id)
            if event.arc_id is not None:
                self.store.relate(self._arc_nodes[event.arc_id], 'INCLUDES', node.id)
            self.graph.add_event(event)
        for cause in causes:
            self.graph.add_cause(cause, event.event_id)
        self._event_nodes[event.event_id] = node.id
        if event.arc_id is not None:
            self.arcs.get(event.arc_id).event_ids.append(event.event_id)
        return node.id

    def advance_arc(self, arc_id: str, event_id: str | None = None) -> str:
        stage = self.arcs.advance(arc_id, event_id)
        arc = self.arcs.get(arc_id)
        self.store.set_properties(self._arc_nodes[arc_id], stage=stage, status=arc.status.value)
        return stage

    def arc_events(self, arc_id: str) -> list[StoryEvent]:
        wanted = set(self.arcs.get(arc_id).event_ids)
        return [e for e in self.graph.topological_order() if e.event_id in wanted]

    def summarise_arc(self, arc_id: str) -> str:
        arc = self.arcs.get(arc_id)
        if arc is None:
            raise KeyError(f"unknown arc {arc_id!r}")
        events = "\n".join(self.graph.describe(e.event_id) for e in self.arc_events(arc_id))
        if self.llm is None:
            return f"{arc.title} ({arc.current_stage}): " + (events.replace("\n", "; ") or "none")
        completion = self.llm.complete(SUMMARY_TEMPLATE, {'title': arc.title,
                                                          'stage': arc.current_stage,
                                                          'events': events or '(none)'})
        self.store.set_properties(self._arc_nodes[arc_id], summary=completion.text)
        return completion.text

    def load_graph(self) -> CausalGraph:
        """Rebuild the causal graph from the store (e.g. after a restart)."""
        events = [
            StoryEvent(n.properties['event_id'], n.properties['description'], n.properties['turn'])
            for n in self.store.find_nodes('StoryEvent')
        ]
        edges = []
        for node in self.store.find_nodes('StoryEvent'):
            for effect in self.store.neighbours(node.id, 'CAUSED'):
                edges.append((node.properties['event_id'], effect.properties['event_id']))
        return CausalGraph.from_edges(events, edges)

    def export(self) -> str:
        arcs = [{'arc_id': a.arc_id, 'stage': a.current_stage, 'status': a.status.value}
                for a in self.arcs]
        events = [e.event_id for e in self.graph.topological_order()]
        return json.dumps({'arcs': arcs, 'events': events})
