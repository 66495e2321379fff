"""Token-bucket rate limiting with an injectable clock."""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimitedError(RuntimeError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.3f}s")
        self.retry_after = retry_after


class TokenBucket:
    """Allows ``capacity`` requests in a burst, refilled at ``refill_per_second``."""

    def __init__(
        self,
        capacity: float,
        refill_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity <= 0 or refill_per_second <= 0:
            raise ValueError("capacity and refill rate must be positive")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.refill_per_second)
        self._updated = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available (0 when available now)."""
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds bucket capacity {self.capacity}")
        self._refill()
        deficit = cost - self._tokens
        return 0.0 if deficit <= 0 else deficit / self.refill_per_second

    def try_acquire(self, cost: float = 1.0) -> bool:
        if self.wait_time(cost) > 0:
            return False
        self._tokens -= cost
        return True

    def acquire(self, cost: float = 1.0) -> None:
        wait = self.wait_time(cost)
        if wait > 0:
            raise RateLimitedError(wait)
        self._tokens -= cost
