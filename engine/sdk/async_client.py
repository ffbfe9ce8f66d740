"""The asynchronous client: the same methods as `Client`, awaited.

`max_in_flight` > 1 sends that many batches of one `log_*` call at a time (the next batch is encoded while
earlier ones are on the wire). Results are still reported in input order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from engine.domain import FeatureSpec, ModelSpec, NewFeature, VersionInfo
from engine.sdk import calls
from engine.sdk.errors import DriftlineClientError
from engine.sdk.options import ClientOptions
from engine.sdk.payloads import DEFAULT_BATCH_SIZE, Batch, iter_batches
from engine.sdk.results import BatchResult, IngestSummary
from engine.sdk.retry import Attempts, RetryPolicy

BatchCallback = Callable[[BatchResult], None]


class AsyncClient:
    """Async driftline client over `httpx.AsyncClient`; options as for `Client`."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_in_flight: int = 1,
        rng: random.Random | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        self.options = ClientOptions.resolve(base_url, api_key, timeout, retry, batch_size)
        self.max_in_flight = max_in_flight
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(base_url=self.options.base_url, headers=self.options.headers,
                                       timeout=self.options.timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def _send(self, call: calls.Call) -> tuple[httpx.Response, int]:
        state = Attempts(self.options.retry, self._rng, call.repeatable, call.what)
        while True:
            state.start()
            try:
                response = await self._http.request(call.method, call.path, params=call.params,
                                                    content=call.content, headers=call.headers)
            except httpx.TransportError as exc:
                await asyncio.sleep(state.after_exception(exc))
                continue
            delay = state.after_response(response)
            if delay is None:
                return response, state.attempt
            await response.aclose()
            await asyncio.sleep(delay)

    # registry

    async def create_model(
        self, name: str, task: str, features: Sequence[Mapping[str, Any] | NewFeature | FeatureSpec] = (), *,
        class_labels: Sequence[str] | None = None, threshold: float = 0.5, dimensions: Sequence[str] = (),
        description: str = "",
    ) -> ModelSpec:
        call = calls.create_model(name, task, features, class_labels, threshold, dimensions, description)
        return calls.parse_model(*await self._send(call))

    async def get_model(self, name: str) -> ModelSpec:
        return calls.parse_model(*await self._send(calls.get_model(name)))

    async def list_models(self) -> list[ModelSpec]:
        return calls.parse_models(*await self._send(calls.list_models()))

    async def create_version(self, model: str, version: str, *, stage: str = "development",
                             description: str = "") -> VersionInfo:
        return calls.parse_version(*await self._send(calls.create_version(model, version, stage, description)))

    async def list_versions(self, model: str) -> list[VersionInfo]:
        return calls.parse_versions(*await self._send(calls.list_versions(model)))

    async def promote(self, model: str, version: str, stage: str = "production") -> VersionInfo:
        return calls.parse_version(*await self._send(calls.promote(model, version, stage)))

    async def archive(self, model: str, version: str) -> VersionInfo:
        return calls.parse_version(*await self._send(calls.archive(model, version)))

    # ingest

    async def log_predictions(
        self, model: str, rows_or_frame: object, version: str | None = None, partial: bool = False,
        segment_columns: Sequence[str] = (), *, batch_size: int | None = None, on_batch: BatchCallback | None = None,
        idempotency_key: str | None = None,
    ) -> IngestSummary:
        target = calls.predictions_target(model, version, partial, segment_columns, idempotency_key)
        return await self._ingest(target, rows_or_frame, batch_size, on_batch)

    async def log_labels(
        self, model: str, rows_or_frame: object, partial: bool = False, *, batch_size: int | None = None,
        on_batch: BatchCallback | None = None, idempotency_key: str | None = None,
    ) -> IngestSummary:
        target = calls.labels_target(model, partial, idempotency_key)
        return await self._ingest(target, rows_or_frame, batch_size, on_batch)

    async def log_metrics(
        self, rows_or_frame: object, model: str | None = None, partial: bool = False, *,
        batch_size: int | None = None, on_batch: BatchCallback | None = None, idempotency_key: str | None = None,
    ) -> IngestSummary:
        target = calls.metrics_target(model, partial, idempotency_key)
        return await self._ingest(target, rows_or_frame, batch_size, on_batch)

    async def _send_batch(self, target: calls.IngestTarget, batch: Batch) -> BatchResult:
        key = target.batch_key(batch.index)  # one key per batch, reused by its retries
        response, attempts = await self._send(calls.ingest_call(target, batch, key))
        return calls.batch_result(response, attempts, batch, key, (), target.kind)

    async def _ingest(self, target: calls.IngestTarget, data: object, batch_size: int | None,
                      on_batch: BatchCallback | None) -> IngestSummary:
        done: dict[int, BatchResult] = {}
        failures: list[tuple[int, DriftlineClientError]] = []
        in_flight: dict[asyncio.Task[BatchResult], int] = {}

        def collect(finished: set[asyncio.Task[BatchResult]]) -> None:
            for task in finished:
                index = in_flight.pop(task)
                exc = task.exception()
                if exc is None:
                    done[index] = task.result()
                    if on_batch is not None:
                        on_batch(done[index])
                elif isinstance(exc, DriftlineClientError):
                    failures.append((index, exc))
                else:
                    raise exc

        try:
            for batch in iter_batches(data, batch_size or self.options.batch_size):
                while len(in_flight) >= self.max_in_flight:
                    finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    collect(finished)
                if failures:
                    break  # stop sending; batches already on the wire are allowed to finish
                in_flight[asyncio.create_task(self._send_batch(target, batch))] = batch.index
            while in_flight:
                finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                collect(finished)
        finally:
            for task in in_flight:  # only non-empty when the caller was cancelled or an unexpected error arose
                task.cancel()
        summary = IngestSummary(target.kind, tuple(done[i] for i in sorted(done)))
        if failures:
            _, first = min(failures, key=lambda f: f[0])
            first.completed = summary
            raise first
        return summary
