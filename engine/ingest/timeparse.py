"""Timestamps at the ingest edge.

Policy (documented in the README): every timestamp must carry a timezone (an ISO 8601 string with `Z` or an
offset, a timezone-aware datetime, or a tz-aware DataFrame column). Naive timestamps are refused, not guessed:
a naive value read as UTC on one client and as local time on another is a silent, unfixable shift. Values are
normalised to UTC. Accepted range: 1990-01-01 to 2200-01-01 (catches seconds-vs-milliseconds mix-ups).
"""

from __future__ import annotations

from datetime import UTC, datetime

MIN_TIME = datetime(1990, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)


def parse_time(value: object) -> datetime | str:
    """A UTC datetime, or the reason the value is not one."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return f"not an ISO 8601 timestamp: {value[:64]!r}"
    elif isinstance(value, datetime):
        parsed = value
    else:
        return f"expected an ISO 8601 timestamp string, got {type(value).__name__}"
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return "timestamp has no timezone (naive timestamps are refused; add 'Z' or an offset)"
    parsed = parsed.astimezone(UTC)
    if not MIN_TIME <= parsed < MAX_TIME:
        return f"timestamp {parsed.isoformat()} is outside [1990-01-01, 2200-01-01)"
    return parsed
