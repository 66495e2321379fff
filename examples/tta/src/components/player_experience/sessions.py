"""Player sessions and the journey record shown to players."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum


class SessionStatus(Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


@dataclass(frozen=True)
class JourneyEntry:
    turn: int
    choice: str
    summary: str
    wellbeing: str


@dataclass
class PlayerSession:
    session_id: str
    player_id: str
    world: str
    status: SessionStatus = SessionStatus.ACTIVE
    journey: list[JourneyEntry] = field(default_factory=list)

    def record(self, entry: JourneyEntry) -> None:
        if self.status is SessionStatus.ENDED:
            raise RuntimeError(f"session {self.session_id} has ended")
        self.journey.append(entry)


class SessionManager:
    def __init__(self, max_active_per_player: int = 1) -> None:
        self._sessions: dict[str, PlayerSession] = {}
        self._ids = itertools.count(1)
        self._max_active = max_active_per_player

    def start(self, player_id: str, world: str) -> PlayerSession:
        active = self.active_for(player_id)
        if len(active) >= self._max_active:
            raise RuntimeError(f"{player_id} already has {len(active)} active session(s)")
        session = PlayerSession(f"s{next(self._ids)}", player_id, world)
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str, player_id: str) -> PlayerSession:
        session = self._sessions.get(session_id)
        if session is None or session.player_id != player_id:
            raise KeyError(f"no session {session_id} for {player_id}")
        return session

    def active_for(self, player_id: str) -> list[PlayerSession]:
        return [
            s
            for s in self._sessions.values()
            if s.player_id == player_id and s.status is not SessionStatus.ENDED
        ]

    def pause(self, session_id: str, player_id: str) -> PlayerSession:
        session = self.get(session_id, player_id)
        if session.status is SessionStatus.ACTIVE:
            session.status = SessionStatus.PAUSED
        return session

    def resume(self, session_id: str, player_id: str) -> PlayerSession:
        session = self.get(session_id, player_id)
        if session.status is SessionStatus.ENDED:
            raise RuntimeError(f"session {session_id} has ended")
        session.status = SessionStatus.ACTIVE
        return session

    def end(self, session_id: str, player_id: str) -> PlayerSession:
        session = self.get(session_id, player_id)
        session.status = SessionStatus.ENDED
        return session
