"""`Client.delete_predictions` / `AsyncClient.delete_predictions` against a real server: the same answer as
the REST call it wraps (`DELETE /api/v1/models/{name}/predictions`), and the rows are gone."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from engine.sdk import AsyncClient, Client, DriftlineAPIError
from tests.sdk.conftest import MODEL, T0, model_features, prediction_rows, stored_predictions

pytestmark = pytest.mark.asyncio


def _times(rows: list[dict[str, object]]) -> dict[str, datetime]:
    return {str(r["prediction_id"]): datetime.fromisoformat(str(r["time"])) for r in rows}


async def test_sdk_delete_matches_the_rest_answer(server_url: str, db_url: str) -> None:
    rows = prediction_rows(400, seed=3)
    times = _times(rows)
    with Client(server_url) as dl:
        dl.create_model(MODEL, "binary", model_features(), class_labels=["no", "yes"])
        dl.create_version(MODEL, "1.0", stage="production")
        dl.log_predictions(MODEL, rows)
        # by id (one unknown id among them): the SDK's count is the REST answer for the same request shape
        assert dl.delete_predictions(MODEL, ["p-1", "p-2", "p-3", "nope"]) == 3
        rest = httpx.delete(f"{server_url}/api/v1/models/{MODEL}/predictions",
                            params=[("prediction_id", "p-4"), ("prediction_id", "p-5"), ("prediction_id", "nope")],
                            headers={"content-type": "application/json"})
        assert rest.status_code == 200 and rest.json() == {"deleted": 2}
        # by range, and ids within a range
        lo, hi = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
        in_range = sorted(p for p, t in times.items() if lo <= t < hi)
        assert dl.delete_predictions(MODEL, start=lo, end=hi) == len(in_range) > 50
        ids_in = ["p-10", "p-11", "p-300"]
        want = sum(lo - timedelta(hours=1) <= times[p] < lo for p in ids_in)
        assert dl.delete_predictions(MODEL, ids_in, start=lo - timedelta(hours=1), end=lo) == want
        with pytest.raises(DriftlineAPIError) as err:
            dl.delete_predictions("no-such-model", ["p-1"])
        assert err.value.status == 404
        with pytest.raises(DriftlineAPIError) as err:
            dl.delete_predictions(MODEL)
        assert 400 <= err.value.status < 500
    left = set(await stored_predictions(db_url))
    gone = {"p-1", "p-2", "p-3", "p-4", "p-5", *in_range} | {p for p in ids_in if lo - timedelta(hours=1) <= times[p] < lo}
    assert left == set(times) - gone

    async with AsyncClient(server_url) as adl:
        assert await adl.delete_predictions(MODEL, ["p-20", "p-21"]) == 2
        assert await adl.delete_predictions(MODEL, ["p-20"]) == 0
    assert set(await stored_predictions(db_url)) == set(times) - gone - {"p-20", "p-21"}
