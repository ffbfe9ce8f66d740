"""Bad input through REST, against a real uvicorn server: each request answers its documented status with the
row, field and reason of the problem, and the database (ingest tables and registry) is unchanged."""

from __future__ import annotations

import httpx
import pytest

from tests.badinput.conftest import Target
from tests.badinput.rest_cases import BODY_CASES, DETAIL, ROW_CASES, Request
from tests.badinput.support import matches, state

CASES: dict[str, Request] = {**ROW_CASES, **BODY_CASES}


@pytest.mark.parametrize("name", list(CASES))
async def test_rest_bad_input(name: str, target: Target, served: str) -> None:
    case = CASES[name]
    before = await state(target.pool)
    headers = dict(case.headers)
    if case.ctype is not None:
        headers["content-type"] = case.ctype
    async with httpx.AsyncClient(base_url=served, timeout=30) as http:
        r = await http.request(case.method, case.path, content=case.body, params=case.params, headers=headers)
    want = case.expect
    assert r.status_code == want.status, (name, r.status_code, r.text[:500])
    out = r.json()
    assert out["status_code"] == want.status and out["detail"], out
    if want.field == DETAIL:
        assert want.reason in out["detail"], (name, out)
    else:
        assert matches(out["errors"], want.row, want.field, want.reason), (name, out)
    if want.status == 405:
        assert "allow" in r.headers
    assert await state(target.pool) == before, name
