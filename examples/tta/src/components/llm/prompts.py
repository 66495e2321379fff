"""Prompt templates with explicit, validated variables."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass


class TemplateError(ValueError):
    """Raised when a template is malformed or rendered with the wrong variables."""


@dataclass(frozen=True)
class Message:
    role: str
    content: str


class PromptTemplate:
    """A system/user prompt pair using ``$name`` placeholders."""

    def __init__(self, user: str, system: str | None = None, max_chars: int = 8000) -> None:
        self._user = string.Template(user)
        self._system = string.Template(system) if system is not None else None
        self.max_chars = max_chars
        for template in (self._user, self._system):
            if template is not None and not template.is_valid():
                raise TemplateError(f"malformed template: {template.template!r}")

    @property
    def variables(self) -> frozenset[str]:
        names = set(self._user.get_identifiers())
        if self._system is not None:
            names.update(self._system.get_identifiers())
        return frozenset(names)

    def render(self, values: Mapping[str, object]) -> list[Message]:
        missing = self.variables - values.keys()
        if missing:
            raise TemplateError(f"missing template variables: {', '.join(sorted(missing))}")
        extra = values.keys() - self.variables
        if extra:
            raise TemplateError(f"unexpected template variables: {', '.join(sorted(extra))}")
        text_values = {name: str(value) for name, value in values.items()}
        messages: list[Message] = []
        if self._system is not None:
            messages.append(Message("system", self._system.substitute(text_values)))
        messages.append(Message("user", self._user.substitute(text_values)))
        total = sum(len(message.content) for message in messages)
        if total > self.max_chars:
            raise TemplateError(f"rendered prompt has {total} characters (limit {self.max_chars})")
        return messages


def estimate_tokens(messages: list[Message]) -> int:
    """Rough token estimate (four characters per token) used for budgeting."""
    return sum(max(1, len(message.content) // 4) for message in messages)
