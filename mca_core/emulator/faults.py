"""Fault injection: the bad days of Partner Center, on purpose and reproducibly.

`FaultConfig` says what to inject; `FaultInjector` decides, request by request, which fault (if
any) a /v1 request gets. Decisions come from one RNG seeded with `fault_seed`, drawn in a fixed
order, so the same config and the same request sequence give the same faults. Throttling is a
token bucket per partner tenant (capacity one second's worth, continuous refill), counted in this
process only: two processes on one data dir each have their own buckets.

The figures are configurable guesses: Microsoft publishes only "500 requests per minute per
partner tenant" for the Customer resource.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class FaultConfig:
    """What to inject into /v1 calls (never into /sandbox). All off by default."""

    #: Added to every /v1 request before anything else.
    latency_ms: float = 0
    #: Token bucket per partner tenant; 0 or None = no throttling.
    rate_limit_per_minute: float | None = None
    #: Probability of a random 429 with `Retry-After: retry_after_seconds`.
    fault_429: float = 0.0
    retry_after_seconds: int = 1
    #: Probability of a 500/502/503/504 (502 comes as an HTML page, like a gateway's).
    fault_5xx: float = 0.0
    #: Probability of a hang of `timeout_hang_seconds` before the answer. For POSTs, half of
    #: these apply the request BEFORE hanging: the answer is lost but the state changed.
    fault_timeout: float = 0.0
    timeout_hang_seconds: float = 30.0
    #: Probability of a connection reset: the request is applied, then the body is cut short.
    fault_reset: float = 0.0
    #: Seed of the fault RNG (None: a random one).
    fault_seed: int | None = None
    #: Every /v1 request whose path contains this text answers 429 with the Retry-After below,
    #: verbatim (any text: "3600", "inf", "soon", an HTTP-date): one customer throttled for an
    #: hour, or with a header no client expects. None: off. Drawn before the random faults.
    throttle_path: str | None = None
    throttle_path_retry_after: str = "3600"

    def __post_init__(self) -> None:
        # Settings arrive as JSON too (PUT /sandbox/faults): coerce, so "0.5" fails or works now,
        # not in the middle of a request.
        for name in ("latency_ms", "fault_429", "fault_5xx", "fault_timeout", "fault_reset"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "timeout_hang_seconds", float(self.timeout_hang_seconds))
        object.__setattr__(self, "retry_after_seconds", int(self.retry_after_seconds))
        if self.rate_limit_per_minute is not None:
            object.__setattr__(self, "rate_limit_per_minute", float(self.rate_limit_per_minute))
        if self.fault_seed is not None:
            object.__setattr__(self, "fault_seed", int(self.fault_seed))
        for name in ("throttle_path", "throttle_path_retry_after"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
            if value is not None and not (value.isascii() and value.isprintable()):
                raise ValueError(f"{name} must be printable ASCII (it goes into a header)")
        if self.throttle_path == "":
            object.__setattr__(self, "throttle_path", None)
        numbers = ("latency_ms", "timeout_hang_seconds", "rate_limit_per_minute")
        for name in (*numbers, "fault_429", "fault_5xx", "fault_timeout", "fault_reset"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        for name in ("fault_429", "fault_5xx", "fault_timeout", "fault_reset"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability between 0 and 1, got {value!r}")
        for name in ("latency_ms", "retry_after_seconds", "timeout_hang_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} may not be negative")
        if self.rate_limit_per_minute is not None and self.rate_limit_per_minute < 0:
            raise ValueError("rate_limit_per_minute may not be negative")

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        """Fields from JSON over `base` (unknown names are an error, so typos don't pass)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        return replace(base or cls(), **data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultKind(StrEnum):
    THROTTLED = "throttled"  # over the token bucket
    PATH_429 = "path_429"  # throttle_path: a 429 with a verbatim Retry-After
    RANDOM_429 = "random_429"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    RESET = "reset"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    #: 429: seconds for Retry-After; 5xx: the status.
    retry_after: int = 0
    status: int = 0
    #: Timeout: apply the request first, then hang (POST only).
    apply_before_hang: bool = False
    #: PATH_429: the Retry-After header as configured, verbatim.
    retry_after_header: str = ""


class TokenBucket:
    """Continuous-refill bucket: `rate` tokens a second, holding at most `capacity`."""

    def __init__(self, per_minute: float, now: float):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.tokens = self.capacity
        self.updated = now

    def take(self, now: float) -> float:
        """Take one token: 0 when granted, else the seconds until one is available."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class FaultInjector:
    """Decides the fault of each /v1 request under one FaultConfig (thread-safe)."""

    def __init__(self, config: FaultConfig, monotonic: Callable[[], float]):
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._config = config
        self._rng = random.Random(config.fault_seed)
        self._buckets: dict[str, TokenBucket] = {}

    @property
    def config(self) -> FaultConfig:
        return self._config

    def decide(self, tenant_id: str, method: str, path: str = "") -> Fault | None:
        """At most one fault for this request; throttling is judged first."""
        cfg = self._config
        if cfg.throttle_path and cfg.throttle_path in path:
            return Fault(FaultKind.PATH_429, retry_after_header=cfg.throttle_path_retry_after)
        with self._lock:
            if cfg.rate_limit_per_minute:
                now = self._monotonic()
                bucket = self._buckets.get(tenant_id)
                if bucket is None:
                    bucket = self._buckets[tenant_id] = TokenBucket(cfg.rate_limit_per_minute, now)
                wait = bucket.take(now)
                if wait > 0:
                    return Fault(FaultKind.THROTTLED, retry_after=max(1, math.ceil(wait)))
            rng = self._rng
            # Always draw every number so one fault's setting doesn't shift another's sequence.
            d429, d5xx, dtimeout, dreset = rng.random(), rng.random(), rng.random(), rng.random()
            status = rng.choice((500, 502, 503, 504))
            before = rng.random() < 0.5
            if d429 < cfg.fault_429:
                return Fault(FaultKind.RANDOM_429, retry_after=int(cfg.retry_after_seconds))
            if d5xx < cfg.fault_5xx:
                return Fault(FaultKind.SERVER_ERROR, status=status)
            if dtimeout < cfg.fault_timeout:
                return Fault(FaultKind.TIMEOUT, apply_before_hang=before and method == "POST")
            if dreset < cfg.fault_reset:
                return Fault(FaultKind.RESET)
        return None
