"""Registry of agents and the capabilities they offer."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class AgentStatus(Enum):
    IDLE = "idle"
    BUSY = "busy"
    OFFLINE = "offline"


@dataclass
class AgentInfo:
    name: str
    capabilities: frozenset[str]
    max_concurrent: int = 1
    status: AgentStatus = AgentStatus.IDLE
    active_tasks: set[str] = field(default_factory=set)

    @property
    def has_capacity(self) -> bool:
        return (
            self.status is not AgentStatus.OFFLINE and len(self.active_tasks) < self.max_concurrent
        )


class AgentRegistry:
    def __init__(self) -> None:
        self._agents: dict[str, AgentInfo] = {}

    def register(self, name: str, capabilities: set[str], max_concurrent: int = 1) -> AgentInfo:
        if name in self._agents:
            raise ValueError(f"agent {name!r} is already registered")
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        info = AgentInfo(name, frozenset(capabilities), max_concurrent)
        self._agents[name] = info
        return info

    def unregister(self, name: str) -> None:
        info = self.get(name)
        if info.active_tasks:
            raise RuntimeError(f"agent {name!r} still has {len(info.active_tasks)} active task(s)")
        del self._agents[name]

    def get(self, name: str) -> AgentInfo:
        try:
            return self._agents[name]
        except KeyError:
            raise KeyError(f"unknown agent {name!r}") from None

    def set_offline(self, name: str) -> None:
        self.get(name).status = AgentStatus.OFFLINE

    def set_online(self, name: str) -> None:
        info = self.get(name)
        info.status = AgentStatus.BUSY if info.active_tasks else AgentStatus.IDLE

    def capable(self, capability: str) -> list[AgentInfo]:
        """Agents offering ``capability`` with spare capacity, least loaded first."""
        agents = [a for a in self._agents.values() if capability in a.capabilities]
        return sorted(
            (a for a in agents if a.has_capacity), key=lambda a: (len(a.active_tasks), a.name)
        )

    def assign(self, name: str, task_id: str) -> None:
        info = self.get(name)
        if not info.has_capacity:
            raise RuntimeError(f"agent {name!r} has no spare capacity")
        info.active_tasks.add(task_id)
        info.status = AgentStatus.BUSY

    def release(self, name: str, task_id: str) -> None:
        info = self.get(name)
        info.active_tasks.discard(task_id)
        if not info.active_tasks and info.status is AgentStatus.BUSY:
            info.status = AgentStatus.IDLE

    def names(self) -> list[str]:
        return sorted(self._agents)
