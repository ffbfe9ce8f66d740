"""When to retry and how long to wait: exponential backoff with full jitter.

Retried: transport failures (connection refused or dropped, read/write errors, timeouts), 5xx and 429.
Never retried: any other 4xx — the request itself is wrong and sending it again cannot help.
Requests that are not safe to repeat (creating a model or a version) are retried only when the server cannot
have acted on them: the connection was never made, or the server said 429/503.
Retrying ingest batches is safe because each carries an idempotency key that the server honours.
"""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`max_attempts` counts the first try; 1 disables retries. Delay before attempt k+1 (k >= 1) is uniform
    in [cap/2, cap] with cap = min(max_delay, initial_delay * multiplier**(k-1)) ("equal jitter": spread
    out, yet a known minimum), or the server's Retry-After when it sends one (capped at `max_delay`).

    The default waits at least 28 s and at most 56 s in all (0.25 s doubling to 8 s, 12 attempts): longer
    than a PostgreSQL restart or an API redeploy, so a stream rides them out."""

    max_attempts: int = 12
    initial_delay: float = 0.25
    multiplier: float = 2.0
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays must be >= 0")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")

    def backoff(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        cap = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return rng.uniform(cap / 2, cap)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header as seconds (delta-seconds or an HTTP date), or None."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - datetime.now(UTC).timestamp())


def should_retry_status(status: int, repeatable: bool) -> bool:
    if repeatable:
        return status in RETRY_STATUSES
    return status in NOT_PROCESSED_STATUSES


def should_retry_exception(exc: httpx.TransportError, repeatable: bool) -> bool:
    if repeatable:
        return True
    # Only failures that happen before the request reached the server.
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)



class Attempts:
    """The retry state of one request: call `after_exception` / `after_response` after each try; they return
    how long to sleep before the next one, or (response) None when the response is final. Out of attempts,
    `after_exception` raises `DriftlineConnectionError`; a final error response is returned to the caller."""

    def __init__(self, policy: RetryPolicy, rng: random.Random, repeatable: bool, what: str) -> None:
        self.policy = policy
        self.rng = rng
        self.repeatable = repeatable
        self.what = what
        self.attempt = 0

    def start(self) -> None:
        self.attempt += 1

    def after_exception(self, exc: httpx.TransportError) -> float:
        from engine.sdk.errors import DriftlineConnectionError

        if self.attempt >= self.policy.max_attempts or not should_retry_exception(exc, self.repeatable):
            raise DriftlineConnectionError(
                f"{self.what} failed after {self.attempt} attempt(s): {type(exc).__name__}: {exc}",
                attempts=self.attempt,
            ) from exc
        return self.policy.backoff(self.attempt, self.rng)

    def after_response(self, response: httpx.Response) -> float | None:
        if self.attempt >= self.policy.max_attempts or not should_retry_status(response.status_code, self.repeatable):
            return None
        return self.policy.backoff(self.attempt, self.rng, retry_after_seconds(response))
