"""Priority-ordered task routing to capable agents."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from components.agent_orchestration.messages import Priority
from components.agent_orchestration.registry import AgentRegistry


@dataclass(order=True)
class Task:
    priority: Priority
    order: int
    task_id: str = field(compare=False)
    capability: str = field(compare=False)
    payload: dict[str, Any] = field(default_factory=dict, compare=False)
    attempts: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Assignment:
    task: Task
    agent: str


class TaskRouter:
    def __init__(self, registry: AgentRegistry, max_attempts: int = 3) -> None:
        self._registry = registry
        self._queue: list[Task] = []
        self._counter = 0
        self._max_attempts = max_attempts
        self.failed: list[Task] = []

    def submit(
        self,
        task_id: str,
        capability: str,
        payload: dict[str, Any] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> Task:
        self._counter += 1
        task = Task(priority, self._counter, task_id, capability, payload or {})
        heapq.heappush(self._queue, task)
        return task

    def __len__(self) -> int:
        return len(self._queue)

    def dispatch(self) -> list[Assignment]:
        """Assign as many queued tasks as possible, highest priority first.

        Tasks whose capability has no free agent stay queued in their original order.
        """
        assignments: list[Assignment] = []
        waiting: list[Task] = []
        while self._queue:
            task = heapq.heappop(self._queue)
            agents = self._registry.capable(task.capability)
            if not agents:
                waiting.append(task)
                continue
            agent = agents[0]
            self._registry.assign(agent.name, task.task_id)
            task.attempts += 1
            assignments.append(Assignment(task, agent.name))
        for task in waiting:
            heapq.heappush(self._queue, task)
        return assignments

    def complete(self, assignment: Assignment) -> None:
        self._registry.release(assignment.agent, assignment.task.task_id)

    def fail(self, assignment: Assignment) -> bool:
        """Release the agent and requeue the task; returns False once it is given up on."""
        self._registry.release(assignment.agent, assignment.task.task_id)
        if assignment.task.attempts >= self._max_attempts:
            self.failed.append(assignment.task)
            return False
        heapq.heappush(self._queue, assignment.task)
        return True
