"""Response cache keyed by model and prompt.

Entries are pickled so that structured completions round-trip unchanged, and the whole cache
can be saved to disk between runs.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any


class ResponseCache:
    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model: str, prompt: str) -> str:
        return hashlib.sha256(f"{model}\x00{prompt}".encode()).hexdigest()

    def get(self, model: str, prompt: str) -> Any:
        key = self.key(model, prompt)
        if key not in self._entries:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return pickle.loads(self._entries[key])

    def put(self, model: str, prompt: str, response: Any) -> None:
        key = self.key(model, prompt)
        self._entries[key] = pickle.dumps(response)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def save(self, path: Path) -> None:
        path.write_bytes(pickle.dumps(dict(self._entries)))

    def load(self, path: Path) -> int:
        entries = pickle.loads(path.read_bytes())
        for key, value in entries.items():
            self._entries[key] = value
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return len(entries)
