"""Data-quality checks against counts computed here with numpy / plain Python on seeded data."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.algorithms.quality import QUALITY_CHECKS, QualityCheckError, check_from_dict, run_checks
from engine.algorithms.quality.aggregates import completeness_from_counts, unseen_categories_from_counts
from engine.algorithms.quality.columns import CategoryCheck, Completeness, RangeCheck, TypeCheck, null_rates
from engine.algorithms.quality.rows import DuplicateCheck, FreshnessCheck
from engine.algorithms.quality.rules import Col, Compare, Implies, InSet, Matches, NotNull
from engine.algorithms.registry import UnknownMethodError

N = 2_000
NOW = dt.datetime(2024, 6, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    """Seeded columns with known injected problems, kept as numpy arrays for the oracle counts."""
    rng = np.random.default_rng(2024)
    age = rng.normal(40, 12, N)
    age[rng.choice(N, 37, replace=False)] = rng.choice([-5.0, 150.0, 200.0], 37)
    age_null = np.zeros(N, bool)
    age_null[rng.choice(N, 91, replace=False)] = True
    country = rng.choice(["FR", "DE", "ES", "IT"], N)
    country[rng.choice(N, 23, replace=False)] = rng.choice(["XX", "ZZ"], 23)
    amount_text = np.array([f"{v:.2f}" for v in rng.gamma(2.0, 30.0, N)], dtype=object)
    amount_text[rng.choice(N, 17, replace=False)] = rng.choice(["n/a", "12,5", "abc", ""], 17)
    user = rng.integers(0, N, N)
    day = rng.integers(0, 3, N)
    start = rng.uniform(0, 100, N)
    end = start + rng.uniform(0, 10, N)
    swapped = rng.choice(N, 29, replace=False)
    end[swapped] = start[swapped] - 1.0
    email = np.array([f"user{i}@example.com" for i in range(N)], dtype=object)
    email[rng.choice(N, 13, replace=False)] = "not-an-email"
    status = rng.choice(["open", "shipped"], N)
    shipped_at_null = (status == "open") | (rng.random(N) < 0.02)
    event_minutes = rng.uniform(0, 24 * 60, N)
    return {
        "age": age,
        "age_null": age_null,
        "country": country,
        "amount_text": amount_text,
        "user": user,
        "day": day,
        "start": start,
        "end": end,
        "email": email,
        "status": status,
        "shipped_at_null": shipped_at_null,
        "event_minutes": event_minutes,
    }


@pytest.fixture(scope="module")
def frame(data: dict[str, np.ndarray]) -> pl.DataFrame:
    events = [NOW - dt.timedelta(minutes=float(m)) for m in data["event_minutes"]]
    return pl.DataFrame(
        {
            "age": [None if n else float(a) for a, n in zip(data["age"], data["age_null"], strict=True)],
            "country": data["country"].tolist(),
            "amount": data["amount_text"].tolist(),
            "user": data["user"].tolist(),
            "day": data["day"].tolist(),
            "start": data["start"].tolist(),
            "end": data["end"].tolist(),
            "email": data["email"].tolist(),
            "status": data["status"].tolist(),
            "shipped_at": [None if n else NOW for n in data["shipped_at_null"]],
            "event_time": events,
        }
    )


def _rows(mask: np.ndarray, cap: int = 100) -> list[int]:
    return np.flatnonzero(mask)[:cap].tolist()


def test_completeness(frame: pl.DataFrame, data: dict[str, np.ndarray]) -> None:
    result = Completeness("age").evaluate(frame)
    assert result.n_failed == int(data["age_null"].sum()) == 91
    assert result.failed_rate == pytest.approx(91 / N, abs=1e-12)
    assert list(result.failed_rows) == _rows(data["age_null"])
    assert not result.passed
    assert Completeness("age", max_null_rate=0.05).evaluate(frame).passed
    assert null_rates(frame)["age"] == pytest.approx(91 / N, abs=1e-12)
    assert null_rates(frame)["country"] == 0.0


def test_completeness_nan_is_null() -> None:
    frame = pl.DataFrame({"x": [1.0, float("nan"), None, 2.0]})
    assert Completeness("x").evaluate(frame).n_failed == 1
    assert Completeness("x", nan_is_null=True).evaluate(frame).failed_rows == (1, 2)


def test_range(frame: pl.DataFrame, data: dict[str, np.ndarray]) -> None:
    outside = ((data["age"] < 0) | (data["age"] > 120)) & ~data["age_null"]
    result = RangeCheck("age", min=0, max=120).evaluate(frame, max_rows=10)
    assert result.n_failed == int(outside.sum())
    assert list(result.failed_rows) == _rows(outside, 10)
    assert result.failed_rows_truncated
    assert list(result.failed_values) == data["age"][_rows(outside, 10)].tolist()
    exclusive = RangeCheck("age", max=150.0, inclusive=False).evaluate(frame)
    assert exclusive.n_failed == int(((data["age"] >= 150) & ~data["age_null"]).sum())


def test_type_mismatches_in_text_column(frame: pl.DataFrame, data: dict[str, np.ndarray]) -> None:
    def parses(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True

    bad = np.array([not parses(v) for v in data["amount_text"]])
    result = TypeCheck("amount", "numeric").evaluate(frame)
    assert result.n_failed == int(bad.sum()) == 17
    assert list(result.failed_rows) == _rows(bad)
    assert TypeCheck("age", "numeric").evaluate(frame).n_failed == 0
    assert TypeCheck("age", "string").evaluate(frame).n_failed == N - 91


def test_type_integer_and_boolean() -> None:
    frame = pl.DataFrame(
        {"f": [1.0, 2.5, None, 3.0], "s": ["1", "2.0", "x", None], "b": ["true", "No", "2", "0"]}
    )
    assert TypeCheck("f", "integer").evaluate(frame).failed_rows == (1,)
    assert TypeCheck("s", "integer").evaluate(frame).failed_rows == (1, 2)
    assert TypeCheck("b", "boolean").evaluate(frame).failed_rows == (2,)


def test_unseen_categories(frame: pl.DataFrame, data: dict[str, np.ndarray]) -> None:
    unseen = ~np.isin(data["country"], ["FR", "DE", "ES", "IT"])
    check = CategoryCheck.from_reference("country", ["FR", "DE", "ES", "IT", None])
    result = check.evaluate(frame)
    assert result.n_failed == int(unseen.sum()) == 23
    assert list(result.failed_rows) == _rows(unseen)
    values, counts = np.unique(data["country"][unseen], return_counts=True)
    assert result.details["unseen_categories"] == dict(zip(values.tolist(), counts.tolist(), strict=True))
    from_counts = unseen_categories_from_counts(
        "country", check.allowed, dict(zip(*np.unique(data["country"], return_counts=True), strict=True))
    )
    assert (from_counts.n_failed, from_counts.n_rows) == (result.n_failed, N)
    assert from_counts.details["unseen_categories"] == result.details["unseen_categories"]


def test_duplicates(frame: pl.DataFrame, data: dict[str, np.ndarray]) -> None:
    seen: set[tuple[int, int]] = set()
    repeat = np.zeros(N, bool)
    for i, key in enumerate(zip(data["user"].tolist(), data["day"].tolist(), strict=True)):
        repeat[i] = key in seen
        seen.add(key)
    result = DuplicateCheck(("user", "day")).evaluate(frame)
    assert result.n_failed == int(repeat.sum()) > 0
    assert list(result.failed_rows) == _rows(repeat)
    assert result.failed_values[0] == {
        "user": int(data["user"][repeat][0]),
        "day": int(data["day"][repeat][0]),
    }
    _keys, counts = np.unique(np.c_[data["user"], data["day"]], axis=0, return_counts=True)
    assert result.details["duplicated_keys"] == int((counts > 1).sum())
    assert DuplicateCheck().evaluate(frame).n_failed == 0


def test_freshness(frame: pl.DataFrame, data: dict[str, np.ndarray]) -> None:
    minutes = data["event_minutes"]
    result = FreshnessCheck("event_time", NOW, dt.timedelta(hours=6)).evaluate(frame)
    stale = minutes * 60e6 // 1 > 6 * 3600e6  # lags at microsecond resolution, as stored
    assert result.n_failed == int(stale.sum())
    assert list(result.failed_rows) == _rows(stale)
    assert result.details["lag_of_latest_s"] == pytest.approx(minutes.min() * 60, abs=1e-5)
    assert result.details["median_lag_s"] == pytest.approx(np.median(minutes) * 60, abs=1e-5)
    assert result.details["p95_lag_s"] == pytest.approx(np.percentile(minutes, 95) * 60, abs=1e-5)
    assert not result.details["stale"]
    later = FreshnessCheck("event_time", NOW + dt.timedelta(days=2), dt.timedelta(hours=6)).evaluate(frame)
    assert later.details["stale"] and later.n_failed == N


def test_freshness_time_zones_and_arrival_lag() -> None:
    frame = pl.DataFrame(
        {
            "event": [dt.datetime(2024, 1, 1, h) for h in range(4)],
            "arrived": [
                dt.datetime(2024, 1, 1, h, 30) if h != 2 else dt.datetime(2024, 1, 1, 5) for h in range(4)
            ],
        }
    )
    lag = FreshnessCheck("event", NOW, dt.timedelta(hours=1), arrival_column="arrived").evaluate(frame)
    assert lag.failed_rows == (2,)
    aware = frame.with_columns(pl.col("event").dt.replace_time_zone("Europe/Paris"))
    now_utc = dt.datetime(2024, 1, 1, 1, 30, tzinfo=dt.UTC)  # = 02:30 in Paris
    assert FreshnessCheck("event", now_utc, dt.timedelta(hours=1)).evaluate(aware).failed_rows == (0, 1)
    with pytest.raises(QualityCheckError, match="naive"):
        FreshnessCheck("event", now_utc, dt.timedelta(hours=1)).evaluate(frame)


def test_rules(frame: pl.DataFrame, data: dict[str, np.ndarray]) -> None:
    pattern = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]+")
    bad_email = np.array([pattern.fullmatch(e) is None for e in data["email"]])
    assert Matches("email", r"[^@\s]+@[^@\s]+\.[a-z]+").evaluate(frame).n_failed == int(bad_email.sum()) == 13
    order = Compare("start", "<=", Col("end")).evaluate(frame)
    assert list(order.failed_rows) == _rows(data["start"] > data["end"])
    assert order.n_failed == 29
    assert order.failed_values[0].keys() == {"start", "end"}
    assert Compare("age", ">=", 0).evaluate(frame).n_failed == int(
        ((data["age"] < 0) & ~data["age_null"]).sum()
    )
    assert NotNull("age").evaluate(frame).n_failed == 91
    assert InSet("country", ("FR", "DE", "ES", "IT")).evaluate(frame).n_failed == 23
    consistency = Implies(when=InSet("status", ("shipped",)), then=NotNull("shipped_at")).evaluate(frame)
    expected = (data["status"] == "shipped") & data["shipped_at_null"]
    assert consistency.n_failed == int(expected.sum()) > 0
    assert list(consistency.failed_rows) == _rows(expected)


def test_rule_specs_round_trip(frame: pl.DataFrame) -> None:
    checks = [
        Implies(when=InSet("status", ("shipped",)), then=NotNull("shipped_at")),
        Compare("start", "<=", Col("end")),
        RangeCheck("age", min=0, max=120),
        DuplicateCheck(("user", "day")),
        FreshnessCheck("event_time", NOW, dt.timedelta(hours=6)),
        CategoryCheck("country", ("FR", "DE")),
    ]
    for check in checks:
        spec = json.loads(json.dumps(check.to_spec()))
        assert check_from_dict(spec) == check
    results = run_checks(frame, checks, max_rows=5)
    assert [r.check for r in results] == [
        "implies",
        "compare",
        "range",
        "duplicates",
        "freshness",
        "categories",
    ]


def test_errors_are_quality_check_errors(frame: pl.DataFrame) -> None:
    with pytest.raises(QualityCheckError, match="not in frame"):
        RangeCheck("nope", min=0).evaluate(frame)
    with pytest.raises(QualityCheckError, match="not numeric"):
        RangeCheck("country", min=0).evaluate(frame)
    with pytest.raises(QualityCheckError, match="cannot be evaluated"):
        Matches("email", "(").evaluate(frame)
    with pytest.raises(QualityCheckError, match="not a datetime"):
        FreshnessCheck("age", NOW, dt.timedelta(1)).evaluate(frame)
    with pytest.raises(QualityCheckError, match="unknown field"):
        check_from_dict({"check": "range", "column": "age", "minimum": 0})
    with pytest.raises(UnknownMethodError, match="categories, compare, completeness"):
        check_from_dict({"check": "valid_json"})
    with pytest.raises(ValueError, match="n_nulls"):
        completeness_from_counts("x", 10, 11)
    assert issubclass(QualityCheckError, ValueError)
    assert "freshness" in QUALITY_CHECKS


def test_completeness_from_counts_matches_rows(frame: pl.DataFrame) -> None:
    rows = Completeness("age").evaluate(frame)
    counts = completeness_from_counts("age", frame.height, int(frame["age"].null_count()))
    assert (counts.n_failed, counts.failed_rate) == (rows.n_failed, rows.failed_rate)


values = st.lists(st.one_of(st.none(), st.integers(-50, 50)), max_size=60)


@settings(max_examples=80, deadline=None)
@given(a=values, b=values, cap=st.integers(0, 10))
def test_rates_bounded_and_rows_capped(a: list[int | None], b: list[int | None], cap: int) -> None:
    n = min(len(a), len(b))
    frame = pl.DataFrame({"a": a[:n], "b": b[:n]}, schema={"a": pl.Int64, "b": pl.Int64})
    for check in (
        Completeness("a"),
        RangeCheck("a", min=-10, max=10),
        DuplicateCheck(("a",)),
        Compare("a", "<", Col("b")),
        InSet("b", (1, 2, 3)),
        Implies(when=Compare("a", ">", 0), then=Compare("b", ">", 0)),
    ):
        result = check.evaluate(frame, max_rows=cap)
        assert 0.0 <= result.failed_rate <= 1.0
        assert 0 <= result.n_failed <= n
        assert len(result.failed_rows) == min(cap, result.n_failed)
        assert list(result.failed_rows) == sorted(set(result.failed_rows))
        json.dumps(result.to_dict())
