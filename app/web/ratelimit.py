"""Rate limits on the surfaces that can be flooded (issue 16): provider webhooks per channel and
page requests per login session. (Logins are throttled in the database per account and per
address: app.domain.auth; the API per key: app.api.auth.)

Token buckets in process memory: a check costs a dictionary lookup, nothing on the database, so
the webhook path (hundreds a second) stays cheap. With several processes each keeps its own
buckets, so the effective limit is the setting times the number of processes behind the load
balancer; the limits are meant against floods, not as quotas.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``rate`` requests per ``per`` seconds per key, with bursts up to ``burst``."""

    def __init__(
        self,
        rate: float,
        per: float = 1.0,
        burst: float | None = None,
        max_keys: int = 50_000,
    ) -> None:
        self.refill = rate / per  # tokens per second
        self.burst = burst if burst is not None else rate
        self.max_keys = max_keys
        self.buckets: dict[object, _Bucket] = {}

    def hit(self, key: object, now: float | None = None) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds until one is free."""
        if self.refill <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self._forget_idle(now)
            bucket = self.buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.refill)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.refill

    def _forget_idle(self, now: float) -> None:
        """Drop the buckets that are full again (their keys have been quiet)."""
        for key in [k for k, b in self.buckets.items() if b.tokens + (now - b.at) * self.refill >= self.burst]:
            del self.buckets[key]
        if len(self.buckets) >= self.max_keys:  # all busy: start over rather than grow without end
            self.buckets.clear()


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
