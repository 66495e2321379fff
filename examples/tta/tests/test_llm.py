from __future__ import annotations

import pytest

from components.llm import ErrorKind, RateLimitedError, RetryPolicy, classify_error


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=0.5, multiplier=2.0, max_delay=3.0)
    assert [policy.delay(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_local_rate_limit_is_retryable() -> None:
    error = RateLimitedError(retry_after=1.5)
    assert "retry after 1.500s" in str(error)
    assert classify_error(error) is ErrorKind.RATE_LIMIT
    assert ErrorKind.RATE_LIMIT.retryable
