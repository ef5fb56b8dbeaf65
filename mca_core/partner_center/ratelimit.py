"""One client-side rate limiter shared by every call to a partner tenant.

Partner Center counts requests per partner tenant (500/min for customers, the only published
figure), so every call of an installation draws from one budget. The limiter hands out evenly
spaced start times (a GCRA-style schedule) under a thread lock, then sleeps outside it: it works
across event loops and threads (Streamlit runs each action in its own loop). A 429 pauses and
slows the whole schedule (adaptive), and successes earn the rate back slowly.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable

from mca_core.partner_center.retry import BUDGET_SECONDS

#: How much one 429 stretches the spacing between calls, and the most it may be stretched.
SLOWDOWN_FACTOR = 1.25
MAX_SLOWDOWN = 4.0
#: Each success shrinks the stretch back by this factor (about 100 calls to recover from one 429).
RECOVERY_FACTOR = 0.998
#: How many calls may start back to back after an idle spell.
DEFAULT_BURST = 1
#: The longest one Retry-After may pause every caller (the default retry budget: no call waits
#: longer than that anyway).
MAX_PAUSE_SECONDS = BUDGET_SECONDS


class RateLimiter:
    """Evenly spaced call starts at `rate_per_minute`, shared, adaptive to throttling."""

    def __init__(
        self,
        rate_per_minute: float,
        *,
        burst: int = DEFAULT_BURST,
        max_pause: float = MAX_PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self.rate_per_minute = float(rate_per_minute)
        self.base_interval = 60.0 / self.rate_per_minute
        self.burst = max(1, burst)
        self.max_pause = max_pause
        self.slowdown = 1.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_start = 0.0
        self._paused_until = 0.0
        self.throttle_events = 0

    @property
    def interval(self) -> float:
        return self.base_interval * self.slowdown

    def reserve(self) -> float:
        """Claim the next start slot; returns how long the caller must wait for it."""
        with self._lock:
            now = self._clock()
            earliest = max(now - (self.burst - 1) * self.interval, self._paused_until)
            start = max(self._next_start, earliest)
            self._next_start = start + self.interval
            return max(0.0, start - now)

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)

    def throttled(self, retry_after: float | None, *, max_pause: float | None = None) -> None:
        """A 429 arrived: pause every caller for Retry-After and widen the spacing.

        The pause is at most `max_pause` (default `self.max_pause`; the client passes its retry
        budget): one 429 asking for an hour must not freeze every other call for an hour. A
        non-finite or negative Retry-After pauses nobody."""
        cap = self.max_pause if max_pause is None else max_pause
        pause = 0.0
        if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
            pause = min(retry_after, max(0.0, cap))
        with self._lock:
            self.throttle_events += 1
            now = self._clock()
            if pause > 0:
                self._paused_until = max(self._paused_until, now + pause)
                self._next_start = max(self._next_start, self._paused_until)
            self.slowdown = min(MAX_SLOWDOWN, self.slowdown * SLOWDOWN_FACTOR)

    def succeeded(self) -> None:
        if self.slowdown > 1.0:
            with self._lock:
                self.slowdown = max(1.0, self.slowdown * RECOVERY_FACTOR)
