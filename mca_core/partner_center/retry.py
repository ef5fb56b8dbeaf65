"""The retry policy, in one place: what is retried, how long to wait, when to give up.

Retried: 429 (after Retry-After), 408 and 5xx, timeouts and broken connections. Never retried:
business errors (400, 401, 403, 404, 409, 600061 ...): asking again cannot change the answer.
Backoff is exponential with full jitter (AWS's recommendation), bounded per wait and in total.
A Retry-After longer than what is left of the budget is not slept on: the call fails at once
with `Throttled` (resubmit later), and the shared limiter pauses the others at most the budget.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from mca_core.domain.errors import PartnerCenterError, ServiceUnavailable, Throttled, TransportError

MAX_ATTEMPTS = 6
BASE_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 30.0
BUDGET_SECONDS = 180.0
#: Extra random wait on top of Retry-After, so many callers do not return at the same instant.
RETRY_AFTER_JITTER = 0.1


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = MAX_ATTEMPTS
    base_delay: float = BASE_DELAY_SECONDS
    max_delay: float = MAX_DELAY_SECONDS
    budget_seconds: float = BUDGET_SECONDS
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @staticmethod
    def is_retryable(error: PartnerCenterError) -> bool:
        return isinstance(error, Throttled | ServiceUnavailable | TransportError)

    def delay(self, attempt: int, error: PartnerCenterError) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        wait = _retry_after(error)
        if wait is not None:
            return wait + self.rng.uniform(0, RETRY_AFTER_JITTER * max(1.0, wait))
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(0, ceiling)

    def should_retry(
        self, attempt: int, error: PartnerCenterError, spent: float, next_delay: float
    ) -> bool:
        return (
            self.is_retryable(error)
            and attempt < self.max_attempts
            and spent + next_delay <= self.budget_seconds
        )

    def beyond_budget(self, error: PartnerCenterError, spent: float) -> bool:
        """Whether the service asked for a longer wait than is left of the budget: that call
        fails now (resubmit later) instead of sleeping, and the caller is told why."""
        wait = _retry_after(error)
        return wait is not None and spent + wait > self.budget_seconds


def _retry_after(error: PartnerCenterError) -> float | None:
    """A usable Retry-After (finite, not negative), else None: then the backoff applies."""
    wait = getattr(error, "retry_after", None) if isinstance(error, Throttled) else None
    if wait is None or not math.isfinite(wait) or wait < 0:
        return None
    return float(wait)
