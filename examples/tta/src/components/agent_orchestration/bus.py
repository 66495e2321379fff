"""In-process publish/subscribe message bus with a dead-letter queue."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from components.agent_orchestration.messages import AgentMessage

Handler = Callable[[AgentMessage], None]


class MessageBus:
    def __init__(self, max_dead_letters: int = 100) -> None:
        self._subscribers: dict[str, list[tuple[str, Handler]]] = defaultdict(list)
        self._dead_letters: list[tuple[AgentMessage, str]] = []
        self._max_dead_letters = max_dead_letters
        self.delivered = 0

    def subscribe(self, topic: str, subscriber: str, handler: Handler) -> None:
        if any(name == subscriber for name, _ in self._subscribers[topic]):
            raise ValueError(f"{subscriber!r} is already subscribed to {topic!r}")
        self._subscribers[topic].append((subscriber, handler))

    def unsubscribe(self, topic: str, subscriber: str) -> bool:
        before = len(self._subscribers[topic])
        self._subscribers[topic] = [s for s in self._subscribers[topic] if s[0] != subscriber]
        return len(self._subscribers[topic]) < before

    def subscribers(self, topic: str) -> list[str]:
        matching = [name for name, _ in self._subscribers.get(topic, [])]
        wildcard = topic.split(".")[0] + ".*"
        matching += [name for name, _ in self._subscribers.get(wildcard, [])]
        return matching

    def publish(self, message: AgentMessage) -> int:
        """Deliver to every subscriber of the topic; returns the number of deliveries."""
        handlers = list(self._subscribers.get(message.topic, []))
        wildcard = message.topic.split(".")[0] + ".*"
        if wildcard != message.topic:
            handlers += self._subscribers.get(wildcard, [])
        if not handlers:
            self._dead_letter(message, "no subscribers")
            return 0
        delivered = 0
        for name, handler in handlers:
            if name == message.sender:
                continue
            try:
                handler(message)
            except Exception as error:  # a failing agent must not break the bus
                self._dead_letter(message, f"{name}: {error}")
                continue
            delivered += 1
        self.delivered += delivered
        return delivered

    def _dead_letter(self, message: AgentMessage, reason: str) -> None:
        self._dead_letters.append((message, reason))
        if len(self._dead_letters) > self._max_dead_letters:
            self._dead_letters.pop(0)

    @property
    def dead_letters(self) -> list[tuple[AgentMessage, str]]:
        return list(self._dead_letters)
