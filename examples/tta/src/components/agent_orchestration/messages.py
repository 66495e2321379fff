"""Messages exchanged between agents."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

_sequence = itertools.count(1)


class Priority(IntEnum):
    """Lower values are handled first."""

    CRITICAL = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3


@dataclass(frozen=True)
class AgentMessage:
    topic: str
    sender: str
    payload: dict[str, Any] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    reply_to: str | None = None
    sequence: int = field(default_factory=lambda: next(_sequence))

    def reply(self, sender: str, payload: dict[str, Any]) -> AgentMessage:
        if self.reply_to is None:
            raise ValueError(f"message {self.sequence} on {self.topic!r} does not expect a reply")
        return AgentMessage(self.reply_to, sender, payload, self.priority)
