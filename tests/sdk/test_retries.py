"""Retries never duplicate. A real TCP proxy sits between client and server and either drops the
connection after the server has answered (and committed) but before the answer reaches the client, or
answers 503 itself. The database must hold each row exactly once."""

from __future__ import annotations

import random
from datetime import timedelta

import polars as pl
import pytest

from engine.sdk import AsyncClient, Client, DriftlineAPIError, DriftlineConnectionError, RetryPolicy
from tests.sdk.conftest import MODEL, T0, fetch, model_features, prediction_rows, stored_predictions
from tests.sdk.servers import FaultProxy, free_port

FAST = RetryPolicy(max_attempts=4, initial_delay=0.01, max_delay=0.05)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _create(url: str) -> None:
    with Client(url) as dl:
        dl.create_model(MODEL, "binary", model_features(), class_labels=["no", "yes"])
        dl.create_version(MODEL, "1.0", stage="production")


async def test_lost_response_is_retried_with_the_same_key_and_replayed(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(30, seed=11)
    with FaultProxy(_port(server_url), drop_responses=1) as proxy, \
            Client(proxy.url, retry=FAST, rng=random.Random(0)) as dl:
        summary = dl.log_predictions(MODEL, rows)
    assert proxy.log.dropped == 1
    first, retry = proxy.log.keys()[:2]
    assert first is not None and first == retry == summary.batches[0].idempotency_key
    (batch,) = summary.batches
    assert batch.attempts == 2 and batch.replayed and batch.status_code == 200
    assert (batch.written, batch.duplicates) == (30, 0)  # the first answer, replayed
    stored = await stored_predictions(db_url)
    assert sorted(stored) == sorted(r["prediction_id"] for r in rows)
    assert (await fetch(db_url, "SELECT count(*) AS n FROM ingest_batches"))[0]["n"] == 1


async def test_lost_response_for_metrics_does_not_duplicate(server_url: str, db_url: str) -> None:
    """Metrics have no natural id: only the idempotency key stands between a retry and a duplicate."""
    _create(server_url)
    frame = pl.DataFrame({"name": ["cost_usd"] * 25, "value": [float(i) for i in range(25)],
                          "time": [T0 + timedelta(seconds=i) for i in range(25)]})
    with FaultProxy(_port(server_url), drop_responses=2) as proxy:
        async with AsyncClient(proxy.url, retry=FAST, batch_size=10, rng=random.Random(1)) as dl:
            summary = await dl.log_metrics(frame, model=MODEL)
    assert proxy.log.dropped == 2
    assert [b.attempts for b in summary.batches] == [3, 1, 1] and summary.replayed_batches == 1
    assert summary.written == 25
    values = await fetch(db_url, "SELECT value FROM metrics ORDER BY value")
    assert [r["value"] for r in values] == [float(i) for i in range(25)]


async def test_503_once_then_ok(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(15, seed=12)
    with FaultProxy(_port(server_url), answer_503=1) as proxy, Client(proxy.url, retry=FAST, batch_size=10) as dl:
        summary = dl.log_predictions(MODEL, rows)
    assert proxy.log.answered_503 == 1
    assert [b.attempts for b in summary.batches] == [2, 1]
    assert not any(b.replayed for b in summary.batches)  # the 503 was never forwarded
    assert summary.written == 15
    assert len(await stored_predictions(db_url)) == 15


async def test_persistent_5xx_ends_after_max_attempts(server_url: str, db_url: str) -> None:
    _create(server_url)
    policy = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02)
    with FaultProxy(_port(server_url), answer_503=10) as proxy, Client(proxy.url, retry=policy) as dl, \
            pytest.raises(DriftlineAPIError) as err:
        dl.log_predictions(MODEL, prediction_rows(5, seed=13))
    assert err.value.status == 503 and err.value.attempts == 3
    assert proxy.log.answered_503 == 3
    assert err.value.completed is not None and err.value.completed.batches == ()
    assert await stored_predictions(db_url) == {}


async def test_4xx_is_never_retried(server_url: str, db_url: str) -> None:
    _create(server_url)
    rows = prediction_rows(5, seed=14)
    rows[0]["prediction_id"] = None
    with FaultProxy(_port(server_url)) as proxy, Client(proxy.url, retry=FAST) as dl, \
            pytest.raises(DriftlineAPIError) as err:
        dl.log_predictions(MODEL, rows)
    assert err.value.status == 422 and err.value.attempts == 1
    assert proxy.log.connections == 1 and len(proxy.log.first_requests) == 1
    assert [(e.row, e.field) for e in err.value.errors] == [(0, "prediction_id")]


def test_connection_refused_exhausts_attempts() -> None:
    port = free_port()  # nothing listens there
    policy = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.02)
    with Client(f"http://127.0.0.1:{port}", retry=policy) as dl, pytest.raises(DriftlineConnectionError) as err:
        dl.log_metrics([{"name": "m", "value": 1.0, "time": T0.isoformat()}])
    assert err.value.attempts == 3
    assert err.value.completed is not None and err.value.completed.batches == ()


def test_backoff_is_bounded_and_jittered() -> None:
    policy = RetryPolicy(max_attempts=10, initial_delay=0.5, multiplier=2.0, max_delay=3.0)
    rng = random.Random(7)
    for attempt in range(1, 10):
        cap = min(3.0, 0.5 * 2 ** (attempt - 1))
        delays = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > 0.8 * cap  # full jitter spans the range
    assert policy.backoff(1, rng, retry_after=30.0) == 3.0
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
