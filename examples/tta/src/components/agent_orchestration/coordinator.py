"""Coordinator that runs routed tasks through LLM-backed agents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components.agent_orchestration.bus import MessageBus
from components.agent_orchestration.messages import AgentMessage, Priority
from components.agent_orchestration.registry import AgentRegistry
from components.agent_orchestration.router import Assignment, TaskRouter
from components.llm import LLMClient, LLMError, PromptTemplate
from components.model_management import ModelRequirements, NoModelAvailableError


@dataclass(frozen=True)
class AgentDefinition:
    name: str
    capabilities: frozenset[str]
    template: PromptTemplate
    requirements: ModelRequirements = ModelRequirements()


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    agent: str
    ok: bool
    output: str


class Coordinator:
    """Registers agents, routes submitted tasks and publishes results on the bus."""

    def __init__(self, llm: LLMClient, bus: MessageBus | None = None) -> None:
        self._llm = llm
        self.bus = bus or MessageBus()
        self.registry = AgentRegistry()
        self.router = TaskRouter(self.registry)
        self._definitions: dict[str, AgentDefinition] = {}
        self.results: list[TaskResult] = []

    def add_agent(self, definition: AgentDefinition) -> None:
        self.registry.register(definition.name, set(definition.capabilities))
        self._definitions[definition.name] = definition

    def submit(
        self,
        task_id: str,
        capability: str,
        values: Mapping[str, object],
        priority: Priority = Priority.NORMAL,
    ) -> None:
        self.router.submit(task_id, capability, dict(values), priority)

    def run_once(self) -> list[TaskResult]:
        results = [self._execute(a) for a in self.router.dispatch()]
        self.results.extend(results)
        return results

    def run_until_idle(self, max_rounds: int = 10) -> list[TaskResult]:
        results: list[TaskResult] = []
        for _ in range(max_rounds):
            batch = self.run_once()
            if not batch:
                break
            results.extend(batch)
        return results

    def _execute(self, assignment: Assignment) -> TaskResult:
        definition = self._definitions[assignment.agent]
        task = assignment.task
        try:
            completion = self._llm.complete(
                definition.template, task.payload, definition.requirements
            )
        except (LLMError, NoModelAvailableError) as error:
            retried = self.router.fail(assignment)
            return TaskResult(task.task_id, assignment.agent, False, f"{error} (retry={retried})")
        self.router.complete(assignment)
        self.bus.publish(
            AgentMessage(
                f"task.{task.capability}",
                assignment.agent,
                {"task_id": task.task_id, "output": completion.text},
                task.priority,
            )
        )
        return TaskResult(task.task_id, assignment.agent, True, completion.text)
