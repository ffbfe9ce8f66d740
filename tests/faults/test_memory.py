"""Finding 2: no request costs the server more memory than `MULTIPLE` × its decoded-size limit
(DRIFTLINE_MAX_DECODED_BYTES). The API runs as a real uvicorn process; for each of the worst bodies we know
(compression bombs in Arrow and Parquet, deep JSON, millions of empty objects, a chunked body far over the
wire limit, and the largest batches that are accepted) its peak RSS (VmHWM, reset before each request through
/proc/PID/clear_refs) is compared with its RSS before the request."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import numpy as np
import polars as pl
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from engine.store.db import create_pool
from tests.conftest import create_database, drop_database
from tests.faults.processes import ApiProcess, api_process, raw_request
from tests.ingest.support import T0, good_binary_row, register_all

LIMIT = 8 * 1024 * 1024  # DRIFTLINE_MAX_DECODED_BYTES and DRIFTLINE_MAX_BODY_BYTES of the server under test
MULTIPLE = 16  # the README's stated bound: peak RSS growth per request ≤ MULTIPLE × the decoded-size limit (max seen: 11.4)
PRED = "/api/v1/models/churn/predictions"
MiB = 1024 * 1024


def _arrow(frame: pl.DataFrame, compression: str | None = "zstd") -> bytes:
    sink = io.BytesIO()
    table = frame.to_arrow()
    with ipc.new_stream(sink, table.schema, options=ipc.IpcWriteOptions(compression=compression)) as w:
        w.write_table(table)
    return sink.getvalue()


def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    pq.write_table(frame.to_arrow(), buf, compression="zstd")
    return buf.getvalue()


def _zeros(rows: int, cols: int) -> pl.DataFrame:
    return pl.DataFrame({f"x{i}": pl.zeros(rows, dtype=pl.Float64, eager=True) for i in range(cols)})


def _valid_frame(rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(1)
    return pl.DataFrame({
        "prediction_id": [f"m-{k}" for k in range(rows)],
        "time": pl.Series([T0 + timedelta(seconds=k) for k in range(rows)], dtype=pl.Datetime("us", "UTC")),
        "score": rng.random(rows), "age": rng.uniform(18, 90, rows), "income": rng.lognormal(10, 1, rows),
        "tenure": rng.integers(0, 60, rows).astype(float), "plan": rng.choice(["basic", "pro"], rows),
        "channel": rng.choice(["web", "app"], rows),
    })


def _valid_json(max_bytes: int) -> bytes:
    row = len(json.dumps(good_binary_row(0))) + 12
    return json.dumps([dict(good_binary_row(k, T0 + timedelta(days=30)), prediction_id=f"j-{k}")
                       for k in range(int(max_bytes * 0.95) // row)]).encode()


@dataclass(frozen=True)
class Body:
    ctype: str
    make: Callable[[], bytes]
    statuses: tuple[int, ...]


BODIES: dict[str, Body] = {
    # compression bombs: tiny on the wire, hundreds of MiB once decompressed
    "arrow_zstd_long": Body("application/vnd.apache.arrow.stream", lambda: _arrow(_zeros(4_000_000, 1)), (413, 422)),
    "arrow_zstd_wide": Body("application/vnd.apache.arrow.stream", lambda: _arrow(_zeros(90_000, 60)), (413,)),
    "parquet_zstd_long": Body("application/vnd.apache.parquet", lambda: _parquet(_zeros(4_000_000, 1)), (413, 422)),
    "parquet_zstd_wide": Body("application/vnd.apache.parquet", lambda: _parquet(_zeros(90_000, 60)), (413,)),
    # JSON shapes
    "json_deep": Body("application/json", lambda: b"[" * (LIMIT // 2 - 1) + b"]" * (LIMIT // 2 - 1), (400,)),
    "json_empty_objects": Body("application/json", lambda: b"[" + b"{}," * (LIMIT // 3 - 2) + b"{}]", (422,)),
    "ndjson_empty_objects": Body("application/x-ndjson", lambda: b"{}\n" * (LIMIT // 3 - 1), (422,)),
    "json_one_huge_string": Body("application/json",
                                 lambda: b'[{"prediction_id": "' + b"x" * (LIMIT - 40) + b'"}]', (422,)),
    # the largest batches that are accepted
    "json_valid_at_limit": Body("application/json", lambda: _valid_json(LIMIT), (201,)),
    "arrow_valid_100k_rows": Body("application/vnd.apache.arrow.stream",
                                  lambda: _arrow(_valid_frame(100_000), None), (201,)),
    "parquet_valid_100k_rows": Body("application/vnd.apache.parquet",
                                    lambda: _parquet(_valid_frame(100_000).with_columns(
                                        pl.format("p-{}", pl.col("prediction_id")).alias("prediction_id"))), (201,)),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, memory_db: str) -> Iterator[ApiProcess]:
    log = tmp_path_factory.mktemp("memory") / "api.log"
    with api_process(memory_db, log, DRIFTLINE_MAX_DECODED_BYTES=str(LIMIT), DRIFTLINE_MAX_BODY_BYTES=str(LIMIT),
                     DRIFTLINE_POOL_MAX_SIZE="2") as api:
        for k in range(3):  # warm up: imports, the pool, the first decode of each kind
            httpx.post(api.url + PRED, json=[dict(good_binary_row(k), prediction_id=f"w-{k}")], timeout=60)
        yield api


@pytest.fixture(scope="module")
async def memory_db(cluster_url: str, template_db: str) -> AsyncIterator[str]:
    name = f"driftline_t_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name, template=template_db)
    pool = await create_pool(url, min_size=1, max_size=2)
    await register_all(pool)
    await pool.close()
    yield url
    await drop_database(cluster_url, name)


def _measure(api: ApiProcess, send: Callable[[], int]) -> tuple[int, int]:
    before = api.status("VmRSS")
    api.reset_peak()
    status = send()
    return status, api.status("VmHWM") - before


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(BODIES))
def test_request_memory_is_bounded(name: str, server: ApiProcess) -> None:
    body = BODIES[name]
    content = body.make()
    assert len(content) <= LIMIT, len(content)

    def send() -> int:
        return httpx.post(server.url + PRED, content=content, headers={"content-type": body.ctype},
                          timeout=120).status_code

    status, growth = _measure(server, send)
    print(f"{name}: {len(content) / MiB:.2f} MiB on the wire → {status}, peak RSS +{growth / MiB:.1f} MiB "
          f"({growth / LIMIT:.2f} × limit)")
    assert status in body.statuses, (name, status)
    assert growth <= MULTIPLE * LIMIT, (name, growth / MiB)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_chunked_body_is_cut_off_at_the_wire_limit(server: ApiProcess) -> None:
    """A chunked body (no Content-Length) of 256 MiB: the server answers 413 once it has read the wire limit and
    stops reading; the client (a raw socket, which stops sending as soon as an answer arrives) has sent little
    more than the limit, and the server's memory grew by at most MULTIPLE × the limit."""
    block = b" " * MiB

    def chunks() -> Iterator[bytes]:
        for _ in range(256):
            yield b"%x\r\n%s\r\n" % (len(block), block)
        yield b"0\r\n\r\n"

    head = (f"POST {PRED} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            "transfer-encoding: chunked\r\n\r\n").encode()
    result: dict[str, int] = {}

    def send() -> int:
        status, sent = raw_request(server.port, head, chunks())
        result["sent"] = sent
        return status

    status, growth = _measure(server, send)
    print(f"chunked: sent {result['sent'] / MiB:.1f} MiB → {status}, peak RSS +{growth / MiB:.1f} MiB")
    assert status == 413
    assert result["sent"] <= 4 * LIMIT + 8 * MiB, result["sent"] / MiB  # socket buffers hold a few MiB
    assert growth <= MULTIPLE * LIMIT
