"""The schedule maths, by hand-worked cases: windows end on the schedule's ticks (multiples of `every` since
the Unix epoch, or a cron's fire times, UTC), a tick at exactly a window end counts, catch-up is bounded to
the newest windows; and the duration parser / formatter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.services.monitors.spec import due_ends, format_duration, latest_end, parse_duration

NOW = datetime(2026, 11, 28, 10, 7, 30, tzinfo=UTC)
H = timedelta(hours=1)


def test_interval_windows() -> None:
    assert latest_end(NOW, 3600, None) == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert latest_end(datetime(2026, 11, 28, 10, tzinfo=UTC), 3600, None) == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert latest_end(NOW, 86400, None) == datetime(2026, 11, 28, tzinfo=UTC)  # midnight UTC
    assert latest_end(NOW, 300, None) == datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    ten = datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert due_ends(None, NOW, 3600, None, 24) == [ten]  # a new monitor: its latest window only
    assert due_ends(ten, NOW, 3600, None, 24) == []  # nothing new since
    assert due_ends(ten - 3 * H, NOW, 3600, None, 24) == [ten - 2 * H, ten - H, ten]
    assert due_ends(ten - 100 * H, NOW, 3600, None, 5) == [ten - 4 * H, ten - 3 * H, ten - 2 * H, ten - H, ten]


def test_cron_windows() -> None:
    six = datetime(2026, 11, 28, 6, tzinfo=UTC)
    assert latest_end(NOW, None, "0 6 * * *") == six
    assert latest_end(six, None, "0 6 * * *") == six  # a fire time equal to now counts
    assert latest_end(six - timedelta(seconds=1), None, "0 6 * * *") == six - 24 * H
    assert due_ends(six - 72 * H, NOW, None, "0 6 * * *", 24) == [six - 48 * H, six - 24 * H, six]
    assert due_ends(six - 72 * H, NOW, None, "0 6 * * *", 2) == [six - 24 * H, six]
    assert due_ends(None, NOW, None, "*/15 * * * *", 24) == [datetime(2026, 11, 28, 10, tzinfo=UTC)]


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600), ("7d", 604800), ("2w", 1209600)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text, "window", []) == seconds
    assert parse_duration(format_duration(seconds), "window", []) == seconds


def test_bad_duration_names_the_field() -> None:
    errs: list = []
    assert parse_duration("1 hour", "every", errs) == 0
    assert errs[0].field == "every" and "'30m', '1h', '7d'" in errs[0].reason
