"""Large ingest bodies are decoded and validated in a small pool of worker processes, so that the event loop
keeps answering while a 100k-row JSON batch is turned into rows: msgspec's decode and the per-row Python
conversion hold the GIL (~1.3 s per 100k rows on the reference machine), so a thread does not help.

The worker gets the body, the model and the batch options; it runs exactly what the in-process path runs
(`decode.decode_rows`, `prepare.check_size`, `prepare.prepare_predictions`, `prepare.decide`) and sends back a
compact result: the binary COPY data of the valid rows (the loop side only streams it to PostgreSQL), the
row errors, the warnings, the rejected_rows payloads of the refused rows (partial mode) and the batch digest (when an
idempotency key asks for one). A refusal comes back as a value (its class, errors and message), so that the
answer is the same as the in-process one.

The pool is `spawn`ed, fixed in size (`DRIFTLINE_DECODE_WORKERS`, default 2; 0 keeps every body in process),
and its processes start on first use (or from `warm()`, which the served app calls at start-up). Only JSON and
NDJSON bodies go there (Arrow and Parquet are decoded by columnar code and stay in process). Bodies
smaller than `DRIFTLINE_OFFLOAD_MIN_BYTES` (default 256 KiB, ~1k rows, ~25 ms of CPU) stay in process: for
them a round trip costs more than it saves. A worker that dies (OOM killer, kill -9) breaks the pool: it is
replaced for later requests, and the request that saw it runs in a thread."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import shared_memory
from typing import Any, TypeVar

import polars as pl

from engine.config import DecodeLimits
from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.ingest.copy_binary import prediction_copy_chunks
from engine.ingest.decode import JSON_TYPES, NDJSON_TYPES, decode_rows, media_type
from engine.ingest.prepare import (
    batch_digest,
    check_size,
    decide,
    payload,
    prepare_predictions,
    undeclared_segment_warnings,
    writable_rows,
)

_OFFLOADED = JSON_TYPES + NDJSON_TYPES
T = TypeVar("T")
A = TypeVar("A")


_COPY_STEP = 1 << 20  # bytes copied into shared memory between two turns of the event loop


@dataclass(frozen=True, slots=True)
class SharedBody:
    """A request body in POSIX shared memory: handing a job to a worker pickles it while holding the GIL
    (~15-35 ms for 23 MB), this copies it in 1 MiB steps between turns of the loop instead."""

    name: str
    size: int

    def read(self) -> bytes:
        shm = shared_memory.SharedMemory(name=self.name)
        try:
            return bytes(_buffer(shm)[: self.size])
        finally:
            shm.close()


def _buffer(shm: shared_memory.SharedMemory) -> memoryview:
    buf = shm.buf
    if buf is None:  # closed
        raise ValueError(f"shared memory block {shm.name} is closed")
    return buf


@asynccontextmanager
async def shared_body(body: bytes) -> AsyncIterator[SharedBody]:
    """The body copied into a shared memory block, unlinked on exit (the workers share the parent's
    resource tracker, so a block left behind by a crash is removed when the API process ends)."""
    n = len(body)
    shm = shared_memory.SharedMemory(create=True, size=max(n, 1))
    try:
        view = memoryview(body)
        for start in range(0, n, _COPY_STEP):
            end = min(start + _COPY_STEP, n)
            _buffer(shm)[start:end] = view[start:end]
            await asyncio.sleep(0)
        view.release()
        yield SharedBody(shm.name, n)
    finally:
        shm.close()
        shm.unlink()


@dataclass(frozen=True, slots=True)
class PredictionJob:
    body: bytes | SharedBody
    content_type: str | None
    limits: DecodeLimits
    model: ModelSpec | None  # None: only decode (the model was not found; a malformed body is reported first)
    max_rows: int = 100_000
    version: str | None = None
    partial: bool = False
    segment_columns: tuple[str, ...] = ()
    want_digest: bool = False
    version_id: int = 0
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class PreparedPredictions:
    received: int
    written: int  # rows in copy_chunks
    copy_chunks: list[bytes]  # binary COPY data of the valid rows, sorted (`prepare.writable_rows`)
    errors: list[RowError]
    warnings: tuple[RowError, ...] = ()
    payloads: dict[int, str] = field(default_factory=dict)  # row → its rejected_rows payload (refused rows)
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A ValidationError (or subclass) raised in a worker, carried back as a value: exceptions whose
    constructor takes other arguments than `args` do not survive pickling."""

    kind: type[ValidationError]
    errors: list[RowError]
    message: str

    def exception(self) -> ValidationError:
        return self.kind(self.errors, self.message)


def prepare_prediction_body(job: PredictionJob) -> PreparedPredictions | Refusal | None:
    """Runs in a worker process: decode, size check, conversion and validation of one predictions body."""
    try:
        body = job.body.read() if isinstance(job.body, SharedBody) else job.body
        rows = decode_rows(body, job.content_type, job.limits)
        del body
        if job.model is None:
            return None
        n = rows.height if isinstance(rows, pl.DataFrame) else len(rows)
        check_size(n, job.max_rows)
        frame, errors = prepare_predictions(job.model, rows, job.segment_columns, job.partial)
        decide(errors, job.partial)
    except ValidationError as exc:
        return Refusal(type(exc), exc.errors, str(exc))
    bad = sorted({e.row for e in errors if e.row is not None})
    item: Callable[[int], Any] = ((lambda i: rows.row(i, named=True)) if isinstance(rows, pl.DataFrame)
                                  else rows.__getitem__)
    good = writable_rows(frame, bad)
    return PreparedPredictions(
        received=n,
        written=good.height,
        copy_chunks=list(prediction_copy_chunks(job.model, job.version_id, good, job.received_at)),
        errors=errors,
        warnings=undeclared_segment_warnings(job.model, good),
        payloads={i: payload(item(i)) for i in bad},
        digest=batch_digest(rows, job.version, job.partial, job.segment_columns) if job.want_digest else None,
    )


def _ready() -> bool:
    return True


def _background_priority() -> None:
    """Workers run at a lower CPU priority (nice +10): on a busy host the scheduler then prefers the API
    process, whose event loop answers the other requests, over the batch being decoded."""
    os.nice(10)


class DecodePool:
    """A fixed-size pool of spawned worker processes for large ingest bodies (one per API process)."""

    def __init__(self, workers: int = 2, min_bytes: int = 256 * 1024) -> None:
        self.workers = workers
        self.min_bytes = min_bytes
        self._executor: ProcessPoolExecutor | None = None
        self.runs = 0  # bodies handed to a worker process (a count for tests and diagnostics)

    def wants(self, body: bytes, content_type: str | None) -> bool:
        """JSON and NDJSON bodies of at least `min_bytes`. Arrow and Parquet stay in process: their decoding
        and conversion are columnar (polars, pyarrow), and the SDK's bulk path should not pay the extra hop."""
        return self.workers > 0 and len(body) >= self.min_bytes and media_type(content_type) in _OFFLOADED

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_background_priority)
        return self._executor

    def warm(self) -> None:
        """Start every worker now (they import polars and numpy: ~1 s each), without waiting for them."""
        if self.workers > 0:
            pool = self._pool()
            for _ in range(self.workers):
                pool.submit(_ready)

    async def run(self, fn: Callable[[A], T], arg: A) -> T:
        loop = asyncio.get_running_loop()
        pool = self._pool()
        self.runs += 1
        try:
            return await loop.run_in_executor(pool, fn, arg)
        except BrokenProcessPool:
            if self._executor is pool:
                self._executor = None
                pool.shutdown(wait=False, cancel_futures=True)
            return await asyncio.to_thread(fn, arg)

    async def close(self) -> None:
        pool, self._executor = self._executor, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
