"""The REST bad-input cases of the predictions endpoint again, against a server that sends every JSON and NDJSON body to its
decode worker process (DRIFTLINE_OFFLOAD_MIN_BYTES=0; engine/ingest/offload.py): the same status, the same
row, field and reason, and the database unchanged, as on the in-process path (tests/badinput/test_rest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.badinput import test_rest as rest
from tests.badinput.conftest import Target
from tests.sdk.servers import api_server

PREDICTION_CASES = [name for name, case in rest.CASES.items() if case.path.endswith("/predictions") and case.method == "POST"]


@pytest.fixture(scope="module")
def offloaded(target: Target) -> Iterator[str]:
    with api_server(target.db_url, max_batch_rows=500, offload_min_bytes=0, decode_workers=1) as url:
        yield url


def test_the_cases_exist() -> None:
    assert len(PREDICTION_CASES) >= 30, len(PREDICTION_CASES)


@pytest.mark.parametrize("name", PREDICTION_CASES)
async def test_rest_bad_input_offloaded(name: str, target: Target, offloaded: str) -> None:
    await rest.test_rest_bad_input(name, target, offloaded)
