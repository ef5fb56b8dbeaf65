"""The shared rate limiter and the retry policy, on a fake clock."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest

from mca_core.domain.errors import (
    AlreadyAttested,
    BadRequest,
    ConnectionFailed,
    PermissionDenied,
    RequestTimeout,
    ServiceUnavailable,
    Throttled,
)
from mca_core.partner_center.ratelimit import MAX_SLOWDOWN, RateLimiter
from mca_core.partner_center.retry import RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_limiter_spaces_calls_evenly():
    clock = FakeClock()
    limiter = RateLimiter(600, clock=clock, sleep=clock.sleep)  # one call per 0.1 s
    starts = []
    for _ in range(50):
        await limiter.acquire()
        starts.append(clock.now)
    assert starts[0] == 1000.0
    gaps = {round(b - a, 6) for a, b in pairwise(starts)}
    assert gaps == {0.1}


def test_limiter_reservations_are_shared():
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_429_pauses_everyone_and_widens_spacing():
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    assert limiter.reserve() == 0.0
    limiter.throttled(5)
    assert limiter.reserve() == pytest.approx(5.0)
    assert limiter.interval == pytest.approx(1.25)
    for _ in range(50):
        limiter.throttled(None)
    assert limiter.slowdown == MAX_SLOWDOWN
    for _ in range(5000):
        limiter.succeeded()
    assert limiter.slowdown == 1.0


def test_what_is_retried():
    policy = RetryPolicy()
    assert policy.is_retryable(Throttled(retry_after=1))
    assert policy.is_retryable(ServiceUnavailable(status=503))
    assert policy.is_retryable(RequestTimeout())
    assert policy.is_retryable(ConnectionFailed())
    for error in (
        AlreadyAttested(status=409),
        BadRequest(status=400),
        PermissionDenied(status=403),
    ):
        assert not policy.is_retryable(error)
        assert not policy.should_retry(1, error, 0, 0)


def test_retry_after_is_honoured_and_backoff_is_bounded():
    policy = RetryPolicy(rng=random.Random(1))
    delay = policy.delay(1, Throttled(retry_after=7))
    assert 7 <= delay <= 7.7
    for attempt in range(1, 12):
        d = policy.delay(attempt, ServiceUnavailable())
        assert 0 <= d <= min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))


def test_attempts_and_budget_bound_retries():
    policy = RetryPolicy(max_attempts=3, budget_seconds=10)
    err = ServiceUnavailable()
    assert policy.should_retry(2, err, spent=0, next_delay=1)
    assert not policy.should_retry(3, err, spent=0, next_delay=1)
    assert not policy.should_retry(1, err, spent=9.5, next_delay=1)
