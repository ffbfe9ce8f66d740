"""The synchronous client.

    with Client("http://127.0.0.1:8000") as dl:
        dl.create_model("churn", "binary", [{"name": "age", "kind": "numeric"}], class_labels=["no", "yes"])
        summary = dl.log_predictions("churn", frame, segment_columns=["region"])
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from engine.domain import FeatureSpec, ModelSpec, NewFeature, VersionInfo
from engine.sdk import analyses, calls
from engine.sdk.errors import DriftlineClientError
from engine.sdk.options import ClientOptions
from engine.sdk.payloads import DEFAULT_BATCH_SIZE, iter_batches
from engine.sdk.results import BatchResult, IngestSummary
from engine.sdk.retry import Attempts, RetryPolicy

BatchCallback = Callable[[BatchResult], None]


class Client:
    """Sync driftline client over `httpx.Client`. Base URL: argument, else `DRIFTLINE_URL`, else
    http://127.0.0.1:8000; API key: argument, else `DRIFTLINE_API_KEY`. See `engine.sdk` for the contract."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        rng: random.Random | None = None,
    ) -> None:
        self.options = ClientOptions.resolve(base_url, api_key, timeout, retry, batch_size)
        self._rng = rng or random.Random()
        self._http = httpx.Client(base_url=self.options.base_url, headers=self.options.headers,
                                  timeout=self.options.timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _send(self, call: calls.Call) -> tuple[httpx.Response, int]:
        state = Attempts(self.options.retry, self._rng, call.repeatable, call.what)
        while True:
            state.start()
            try:
                response = self._http.request(call.method, call.path, params=call.params, content=call.content,
                                              headers=call.headers)
            except httpx.TransportError as exc:
                time.sleep(state.after_exception(exc))
                continue
            delay = state.after_response(response)
            if delay is None:
                return response, state.attempt
            response.close()
            time.sleep(delay)

    # baselines and analyses

    def create_baseline(self, model: str, name: str, reference: Any = None, *, start: Any = None, end: Any = None,
                        version: str | None = None, activate: bool = True) -> dict[str, Any]:
        """A baseline from a Polars DataFrame of reference rows (one column per feature, optionally `time`,
        `score`, `predicted_class`, `label`, …) or, without one, from the stored range [start, end)."""
        if reference is not None:
            call = analyses.create_baseline_from_frame(model, name, reference, activate)
        else:
            if start is None or end is None:
                raise DriftlineClientError("give a reference DataFrame, or start and end of a stored range")
            call = analyses.create_baseline_from_range(model, name, start, end, version, activate)
        result: dict[str, Any] = analyses.parse_json(*self._send(call))
        return result

    def list_baselines(self, model: str) -> Any:
        """The model's baselines as a Polars frame."""
        return analyses.frame(analyses.parse_json(*self._send(analyses.list_baselines(model))))

    def activate_baseline(self, model: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = analyses.parse_json(*self._send(analyses.activate_baseline(model, name)))
        return result

    def drift(self, model: str, start: Any, end: Any, *, store: bool = True, **params: Any) -> Any:
        """Per-feature drift over [start, end) as a Polars frame (one row per feature and method); the report's
        dataset verdict is in the frame's `dataset_drift` column. Parameters as the REST endpoint's
        (`methods`, `rule`, `sliding_hours`, `reference_start`, `threshold_mode`, `exact`, …)."""
        report = analyses.parse_json(*self._send(analyses.drift(model, start, end, store, params)))
        rows = [{**{k: v for k, v in f.items() if k != "details"}, "dataset_drift": report["dataset_drift"]}
                for f in report["features"]]
        return analyses.frame(rows)

    def analysis_results(self, model: str, start: Any, end: Any, analysis: str | None = None) -> Any:
        """Stored analysis results (one statistic per row) as a Polars frame."""
        body = analyses.parse_json(*self._send(analyses.results(model, start, end, analysis)))
        return analyses.frame([{k: v for k, v in r.items() if k != "details"} for r in body["results"]])

    # registry

    def create_model(
        self, name: str, task: str, features: Sequence[Mapping[str, Any] | NewFeature | FeatureSpec] = (), *,
        class_labels: Sequence[str] | None = None, threshold: float = 0.5, dimensions: Sequence[str] = (),
        description: str = "",
    ) -> ModelSpec:
        call = calls.create_model(name, task, features, class_labels, threshold, dimensions, description)
        return calls.parse_model(*self._send(call))

    def get_model(self, name: str) -> ModelSpec:
        return calls.parse_model(*self._send(calls.get_model(name)))

    def list_models(self) -> list[ModelSpec]:
        return calls.parse_models(*self._send(calls.list_models()))

    def create_version(self, model: str, version: str, *, stage: str = "development",
                       description: str = "") -> VersionInfo:
        return calls.parse_version(*self._send(calls.create_version(model, version, stage, description)))

    def list_versions(self, model: str) -> list[VersionInfo]:
        return calls.parse_versions(*self._send(calls.list_versions(model)))

    def promote(self, model: str, version: str, stage: str = "production") -> VersionInfo:
        return calls.parse_version(*self._send(calls.promote(model, version, stage)))

    def archive(self, model: str, version: str) -> VersionInfo:
        return calls.parse_version(*self._send(calls.archive(model, version)))

    # ingest

    def log_predictions(
        self, model: str, rows_or_frame: object, version: str | None = None, partial: bool = False,
        segment_columns: Sequence[str] = (), *, batch_size: int | None = None, on_batch: BatchCallback | None = None,
        idempotency_key: str | None = None,
    ) -> IngestSummary:
        target = calls.predictions_target(model, version, partial, segment_columns, idempotency_key)
        return self._ingest(target, rows_or_frame, batch_size, on_batch)

    def log_labels(
        self, model: str, rows_or_frame: object, partial: bool = False, *, batch_size: int | None = None,
        on_batch: BatchCallback | None = None, idempotency_key: str | None = None,
    ) -> IngestSummary:
        target = calls.labels_target(model, partial, idempotency_key)
        return self._ingest(target, rows_or_frame, batch_size, on_batch)

    def log_metrics(
        self, rows_or_frame: object, model: str | None = None, partial: bool = False, *,
        batch_size: int | None = None, on_batch: BatchCallback | None = None, idempotency_key: str | None = None,
    ) -> IngestSummary:
        target = calls.metrics_target(model, partial, idempotency_key)
        return self._ingest(target, rows_or_frame, batch_size, on_batch)

    def _ingest(self, target: calls.IngestTarget, data: object, batch_size: int | None,
                on_batch: BatchCallback | None) -> IngestSummary:
        done: list[BatchResult] = []
        for batch in iter_batches(data, batch_size or self.options.batch_size):
            key = target.batch_key(batch.index)  # one key per batch, reused by its retries
            try:
                response, attempts = self._send(calls.ingest_call(target, batch, key))
            except DriftlineClientError as exc:
                exc.completed = IngestSummary(target.kind, tuple(done))
                raise
            result = calls.batch_result(response, attempts, batch, key, done, target.kind)
            done.append(result)
            if on_batch is not None:
                on_batch(result)
        return IngestSummary(target.kind, tuple(done))
