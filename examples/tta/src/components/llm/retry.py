"""Error classification and retry with exponential backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from components.llm.rate_limit import RateLimitedError

T = TypeVar("T")


class ErrorKind(Enum):
    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    SERVER = "server"
    AUTH = "auth"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        return self in (ErrorKind.RATE_LIMIT, ErrorKind.TIMEOUT, ErrorKind.SERVER)


class LLMError(Exception):
    """An error reported by a provider backend, optionally with an HTTP-like status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def classify_error(error: BaseException) -> ErrorKind:
    if isinstance(error, RateLimitedError):
        return ErrorKind.RATE_LIMIT
    if isinstance(error, TimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(error, LLMError) and error.status is not None:
        if error.status == 429:
            return ErrorKind.RATE_LIMIT
        if error.status in (401, 403):
            return ErrorKind.AUTH
        if error.status == 408:
            return ErrorKind.TIMEOUT
        if 400 <= error.status < 500:
            return ErrorKind.INVALID_REQUEST
        if error.status >= 500:
            return ErrorKind.SERVER
    return ErrorKind.UNKNOWN


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt`` (1-based)."""
        return min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))

    def run(
        self,
        operation: Callable[[], T],
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[int, BaseException], None] | None = None,
    ) -> T:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return operation()
            except Exception as error:
                kind = classify_error(error)
                if not kind.retryable or attempt == self.max_attempts:
                    raise
                if on_retry is not None:
                    on_retry(attempt, error)
                wait = self.delay(attempt)
                if isinstance(error, RateLimitedError):
                    wait = max(wait, error.retry_after)
                sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover
