"""Fixed-window rate limits counted in PostgreSQL, so every API process (`driftline serve --workers N`, or
servers on several hosts) shares one count: one upsert per counted event (`rate_counters`, unlogged).

Fixed windows let a client spend up to twice the limit across a window boundary; in exchange a check is one
indexed upsert on a one-row-per-bucket-and-window table. Redis (DRIFTLINE_REDIS_URL) is not built."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.config import RateLimit
from engine.store import access_repo
from engine.store.unit import UnitOfWork


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after: int  # whole seconds until the window ends (what Retry-After says when refused)


class RateLimiter:
    def __init__(self, uow: UnitOfWork) -> None:
        self.conn = uow.conn

    async def hit(self, bucket: str, rate: RateLimit, amount: int = 1) -> RateDecision:
        """Count `amount` events for `bucket` in the current window; refused once the count passes the limit."""
        counted = await access_repo.hit_counter(self.conn, bucket, rate.window_seconds, amount)
        return RateDecision(allowed=counted.count <= rate.limit, count=counted.count,
                            retry_after=max(1, math.ceil(counted.seconds_left)))

    async def prune(self, older_than_seconds: int) -> None:
        """Forget windows that ended long ago (any process may do it; it deletes what nobody reads)."""
        await access_repo.prune_counters(self.conn, older_than_seconds)
