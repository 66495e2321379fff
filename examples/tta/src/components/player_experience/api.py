"""Facade used by the web layer: authenticated sessions over the gameplay loop."""

from __future__ import annotations

from dataclasses import dataclass

from components.character_arc_manager import CharacterArcManager, CharacterRoster
from components.gameplay_loop import Choice, TurnEngine
from components.narrative_arc_orchestrator import NarrativeArcOrchestrator
from components.neo4j_component import GraphStore
from components.player_experience.auth import TokenAuthenticator
from components.player_experience.sessions import (
    JourneyEntry,
    PlayerSession,
    SessionManager,
    SessionStatus,
)
from components.therapeutic_systems import DistressLevel

PAUSED_SUMMARY = "Paused to check in."


@dataclass(frozen=True)
class TurnView:
    session_id: str
    turn: int
    choices: list[tuple[str, str]]
    paused: bool
    message: str


class PlayerExperienceAPI:
    def __init__(
        self,
        store: GraphStore,
        auth: TokenAuthenticator,
        scenes: dict[str, list[Choice]],
    ) -> None:
        self._store = store
        self._auth = auth
        self._scenes = scenes
        self.sessions = SessionManager()
        self._orchestrator = NarrativeArcOrchestrator(store)
        self.characters = CharacterArcManager(CharacterRoster(store), self._orchestrator)
        self._engines: dict[str, TurnEngine] = {}

    def start_session(self, credential: str, world: str) -> TurnView:
        player_id = self._auth.verify(credential)
        if world not in self._scenes:
            raise KeyError(f"unknown world {world!r}")
        session = self.sessions.start(player_id, world)
        engine = TurnEngine(self._store, self._orchestrator, player_id, self._scenes[world])
        self._engines[session.session_id] = engine
        return self._view(session, engine, paused=False, message=f"Welcome to {world}.")

    def take_turn(self, credential: str, session_id: str, text: str, choice_id: str) -> TurnView:
        player_id = self._auth.verify(credential)
        session = self.sessions.get(session_id, player_id)
        if session.status is not SessionStatus.ACTIVE:
            raise RuntimeError(f"session {session_id} is {session.status.value}")
        engine = self._engines[session_id]
        chosen = engine.offered.get(choice_id)
        result = engine.take_turn(text, choice_id)
        wellbeing = result.assessment.level.name.lower()
        if result.paused:
            self.sessions.pause(session_id, player_id)
            session.record(JourneyEntry(result.turn, choice_id, PAUSED_SUMMARY, wellbeing))
            message = "Let's take a break from the story. Support is here whenever you want it."
            return self._view(session, engine, paused=True, message=message)
        summary = chosen.text if chosen is not None else choice_id
        session.record(JourneyEntry(result.turn, choice_id, summary, wellbeing))
        message = "Take your time." if result.assessment.level >= DistressLevel.MODERATE else ""
        return self._view(session, engine, paused=False, message=message)

    def resume(self, credential: str, session_id: str) -> TurnView:
        player_id = self._auth.verify(credential)
        session = self.sessions.resume(session_id, player_id)
        return self._view(session, self._engines[session_id], paused=False, message="Welcome back.")

    def journey(self, credential: str, session_id: str) -> list[JourneyEntry]:
        player_id = self._auth.verify(credential, scope="read")
        return list(self.sessions.get(session_id, player_id).journey)

    def end_session(self, credential: str, session_id: str) -> int:
        player_id = self._auth.verify(credential)
        session = self.sessions.end(session_id, player_id)
        self._engines.pop(session_id, None)
        return len(session.journey)

    def export_journey(self, credential: str, session_id: str) -> str:
        """Plain-text journey the player can download and keep."""
        entries = self.journey(credential, session_id)
        if not entries:
            return "Your journey has not started yet."
        lines = [f"Journey for session {session_id}", ""]
        for entry in entries:
            if entry.summary == PAUSED_SUMMARY:
                lines.append(f"Turn {entry.turn}: we paused together to check in.")
            else:
                lines.append(f"Turn {entry.turn}: {entry.summary} (feeling {entry.wellbeing})")
        return "\n".join(lines)

    def forget_player(self, credential: str) -> int:
        """End every session of the player and revoke all their credentials."""
        player_id = self._auth.verify(credential)
        ended = 0
        for session in self.sessions.active_for(player_id):
            self.sessions.end(session.session_id, player_id)
            self._engines.pop(session.session_id, None)
            ended += 1
        self._auth.revoke_player(player_id)
        return ended

    @staticmethod
    def _view(session: PlayerSession, engine: TurnEngine, paused: bool, message: str) -> TurnView:
        choices = [(c.choice_id, c.text) for c in engine.offered.choices]
        return TurnView(session.session_id, engine.turn, choices, paused, message)
