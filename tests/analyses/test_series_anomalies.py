"""POST /api/v1/anomalies: detectors over a posted series, against hand-worked and numpy cases; the same
detectors as the stored-series endpoint; 415 for a body that is not JSON, 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from litestar.testing import AsyncTestClient

pytestmark = pytest.mark.asyncio
URL = "/api/v1/anomalies"


async def _post(client: AsyncTestClient, body: dict, status: int = 200) -> dict:
    r = await client.post(URL, json=body)
    assert r.status_code == status, r.text
    return r.json()


async def test_zscore_hand_worked(client: AsyncTestClient) -> None:
    # reference [1, 2, 3]: mean 2, std (ddof 1) 1 → the scores of 2 and 9 are 0 and 7
    out = await _post(client, {"values": [1, 2, 3, 2, 9], "method": "zscore", "reference_size": 3})
    assert (out["n_reference"], out["n_scored"], out["threshold"], out["anomalies"]) == (3, 2, 3.0, [4])
    assert [p["score"] for p in out["points"]] == [None, None, None, 0.0, 7.0]
    assert [p["reference"] for p in out["points"]] == [True, True, True, False, False]
    assert out["points"][4]["lower"] == pytest.approx(-1.0) and out["points"][4]["upper"] == pytest.approx(5.0)


async def test_mad_and_iqr_against_numpy(client: AsyncTestClient) -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(10, 2, 60)
    values[45], values[52] = 25.0, -8.0
    ref, cur = values[:30], values[30:]
    med = np.median(ref)
    mad = np.median(np.abs(ref - med))
    z = 0.6745 * (cur - med) / mad
    out = await _post(client, {"values": values.tolist(), "method": "mad"})  # reference_fraction 0.5
    np.testing.assert_allclose([abs(p["score"]) for p in out["points"][30:]], np.abs(z), rtol=1e-9)
    assert out["anomalies"] == [30 + int(i) for i in np.flatnonzero(np.abs(z) > 3.5)]
    assert {45, 52} <= set(out["anomalies"])
    q1, q3 = np.percentile(ref, [25, 75])
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    out = await _post(client, {"values": values.tolist(), "method": "iqr", "reference_size": 30})
    assert out["anomalies"] == [30 + int(i) for i in np.flatnonzero((cur < lo) | (cur > hi))]
    assert out["points"][40]["lower"] == pytest.approx(lo) and out["points"][40]["upper"] == pytest.approx(hi)


async def test_timestamps_reference_end_and_change_points(client: AsyncTestClient) -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    values = [0.0, 0.1, -0.1, 0.05, -0.05, 0.0] * 5 + [5.0] * 20
    stamps = [(t0 + timedelta(minutes=i)).isoformat() for i in range(len(values))]
    out = await _post(client, {"values": values, "timestamps": stamps, "method": "cusum",
                               "reference_end": stamps[30]})
    assert out["kind"] == "change" and out["n_reference"] == 30 and out["n_anomalies"] >= 1
    assert all(i >= 30 for i in out["anomalies"]) and out["anomalies"][0] <= 33
    assert out["points"][30]["timestamp"].startswith("2026-03-01T00:30")
    whole = await _post(client, {"values": values, "method": "rolling_zscore", "fit": "whole"})
    assert whole["n_reference"] == 0 and whole["fit"] == "whole"
    short = await _post(client, {"values": [1.0, 2.0], "method": "zscore"})
    assert short["status"] == "insufficient_data" and short["anomalies"] == []


async def test_bad_input_is_415_or_422_naming_the_field(client: AsyncTestClient) -> None:
    r = await client.post(URL, content=b"1,2,3", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    cases = [
        ({"values": [1, 2, 3], "method": "nope"}, "method"),
        ({"values": [1, 2, 3], "timestamps": [t0.isoformat()]}, "timestamps"),
        ({"values": [1, 2, 3], "timestamps": [t0.isoformat()] * 3}, "timestamps"),
        ({"values": [1, 2, 3], "reference_end": t0.isoformat()}, "reference_end"),
        ({"values": [1, 2, 3], "reference_fraction": 1.5}, "reference_fraction"),
        ({"values": [1, 2, 3, 4], "reference_size": 4}, "reference_size"),
        ({"values": [1, 2, 3], "method": "adwin", "fit": "sideways"}, "fit"),
        ({"values": [], "method": "mad"}, "values"),
        ({"values": [1, 2, 3], "threshold": -1}, "threshold"),
    ]
    for body, field in cases:
        r = await client.post(URL, json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        assert field in r.text, (body, r.text)
    r = await client.post(URL, json={"values": "1,2,3"})
    assert r.status_code == 400, r.text
    r = await client.post(URL, json={"values": [1, 2, 3], "unknown": 1})
    assert r.status_code == 400, r.text


async def test_numbers_as_strings_are_refused(client: AsyncTestClient) -> None:
    r = await client.post(URL, json={"values": ["1", 2, 3, 4]})
    assert r.status_code == 400, r.text
