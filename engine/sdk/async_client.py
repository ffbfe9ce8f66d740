"""The asynchronous client: the same methods as `Client`, awaited.

`max_in_flight` > 1 sends that many batches of one `log_*` call at a time (the next batch is encoded while
earlier ones are on the wire). Results are still reported in input order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from engine.domain import DimensionDeclared, FeatureSpec, ModelSpec, NewFeature, VersionInfo
from engine.sdk import analyses, analytics_jobs, calls, performance, reads
from engine.sdk.errors import DriftlineClientError
from engine.sdk.monitors import AsyncMonitorsMixin
from engine.sdk.options import ClientOptions
from engine.sdk.payloads import DEFAULT_BATCH_SIZE, Batch, iter_batches
from engine.sdk.results import BatchResult, IngestSummary
from engine.sdk.retry import Attempts, RetryPolicy

BatchCallback = Callable[[BatchResult], None]


class AsyncClient(AsyncMonitorsMixin):
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
        response, attempts = await self._send(call)
        created = calls.created_model(response, attempts, name, task)
        if created is None:  # retried after a lost answer: the model may be the first attempt's
            return calls.confirm_created_model(await self.get_model(name), task, response, attempts)
        return created

    async def get_model(self, name: str) -> ModelSpec:
        return calls.parse_model(*await self._send(calls.get_model(name)))

    async def list_models(self) -> list[ModelSpec]:
        return calls.parse_models(*await self._send(calls.list_models()))

    async def create_version(self, model: str, version: str, *, stage: str = "development",
                             description: str = "") -> VersionInfo:
        response, attempts = await self._send(calls.create_version(model, version, stage, description))
        created = calls.created_version(response, attempts)
        if created is None:  # retried after a lost answer: the version may be the first attempt's
            return next(v for v in await self.list_versions(model) if v.version == version)
        return created

    async def declare_dimension(self, model: str, key: str) -> DimensionDeclared:
        """Declare segment key `key` a window dimension of `model` after data exists: the windows are
        backfilled in the background; reads grouped by `key` are exact at once (from raw rows meanwhile)."""
        return calls.parse_dimension(*await self._send(calls.declare_dimension(model, key)))

    async def list_versions(self, model: str) -> list[VersionInfo]:
        return calls.parse_versions(*await self._send(calls.list_versions(model)))

    async def promote(self, model: str, version: str, stage: str = "production") -> VersionInfo:
        return calls.parse_version(*await self._send(calls.promote(model, version, stage)))

    # baselines and analyses (as `Client`'s, awaited)

    async def create_baseline(self, model: str, name: str, reference: Any = None, *, start: Any = None,
                              end: Any = None, version: str | None = None, activate: bool = True) -> dict[str, Any]:
        """As `Client.create_baseline`: from a Polars DataFrame of reference rows, or the stored range [start, end)."""
        if reference is not None:
            call = analyses.create_baseline_from_frame(model, name, reference, activate)
        else:
            if start is None or end is None:
                raise DriftlineClientError("give a reference DataFrame, or start and end of a stored range")
            call = analyses.create_baseline_from_range(model, name, start, end, version, activate)
        result: dict[str, Any] = analyses.parse_json(*await self._send(call))
        return result

    async def list_baselines(self, model: str) -> Any:
        return analyses.frame(analyses.parse_json(*await self._send(analyses.list_baselines(model))))

    async def activate_baseline(self, model: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = analyses.parse_json(*await self._send(analyses.activate_baseline(model, name)))
        return result

    async def drift(self, model: str, start: Any, end: Any, *, store: bool = True, **params: Any) -> Any:
        """As `Client.drift`: per-feature drift as a Polars frame."""
        report = analyses.parse_json(*await self._send(analyses.drift(model, start, end, store, params)))
        return analyses.frame(analyses.drift_rows(report))

    async def multivariate_drift(self, model: str, start: Any, end: Any, *, method: str = "domain_classifier",
                                 store: bool = True, **params: Any) -> dict[str, Any]:
        """As `Client.multivariate_drift`: the report as a dict."""
        call = analyses.multivariate(model, start, end, store, {"method": method, **params})
        report: dict[str, Any] = analyses.parse_json(*await self._send(call))
        return report

    async def detect_anomalies(self, values: Sequence[float], timestamps: Sequence[Any] | None = None, *,
                               method: str = "mad", **params: Any) -> Any:
        """As `Client.detect_anomalies`: the scored points of a series you pass, as a Polars frame."""
        body = {"values": list(values), "timestamps": list(timestamps) if timestamps is not None else None,
                "method": method, **params}
        return analyses.frame(analyses.parse_json(*await self._send(analyses.series_anomalies(body)))["points"])

    async def analysis_results(self, model: str, start: Any, end: Any, analysis: str | None = None) -> Any:
        body = analyses.parse_json(*await self._send(analyses.results(model, start, end, analysis)))
        return analyses.frame(analyses.result_rows(body))

    async def quality(self, model: str, start: Any, end: Any, *, store: bool = True,
                      rules: Sequence[Mapping[str, Any]] = (), **params: Any) -> Any:
        """As `Client.quality`: data quality per feature as a Polars frame."""
        body = {"rules": list(rules)} if rules else None
        call = analyses.analysis(model, "quality", store, {"start": start, "end": end, **params}, body)
        return analyses.frame(analyses.quality_rows(analyses.parse_json(*await self._send(call))))

    async def degradation(self, model: str, start: Any, end: Any, *, store: bool = True, **params: Any) -> Any:
        """As `Client.degradation`: each metric against the baseline as a Polars frame."""
        call = analyses.analysis(model, "degradation", store, {"start": start, "end": end, **params})
        return analyses.frame(analyses.degradation_rows(analyses.parse_json(*await self._send(call))))

    async def performance_summary(self, model: str, days: int = 30) -> dict[str, Any]:
        summary: dict[str, Any] = analyses.parse_json(*await self._send(
            analyses.analysis(model, "performance-summary", False, {"days": days})))
        return summary

    async def trend(self, model: str, metric: str, start: Any, end: Any, **params: Any) -> Any:
        """As `Client.trend`: the points with the trend tests in columns, as a Polars frame."""
        call = analyses.analysis(model, "trend", False, {"metric": metric, "start": start, "end": end, **params})
        return analyses.frame(analyses.trend_rows(analyses.parse_json(*await self._send(call))))

    async def anomalies(self, model: str, metric: str, start: Any, end: Any, **params: Any) -> Any:
        """As `Client.anomalies`: the scored buckets of a stored metric series, as a Polars frame."""
        call = analyses.analysis(model, "anomalies", False, {"metric": metric, "start": start, "end": end, **params})
        return analyses.frame(analyses.parse_json(*await self._send(call))["points"])

    async def track_performance(
        self, model: str, y_true: Any, y_pred: Any = None, y_pred_proba: Any = None,
        metadata: Mapping[str, Any] | None = None, *, version: str | None = None, features: Any = None,
        time: datetime | None = None, thresholds: Mapping[str, float] | None = None, retrain_at: float = 0.15,
    ) -> dict[str, Any]:
        """Seed 004's `track_performance`: log a labelled batch (predictions, then labels, with idempotency keys
        derived from the batch id: `metadata["batch_id"]` or a digest of the batch) and return its metrics,
        the degradation analysis against the active baseline (seed 004's thresholds unless `thresholds`),
        and the retraining flag. Class values may be labels or class indices; `y_pred_proba` a score, a
        [p0, p1] pair (binary) or the class probabilities (multiclass)."""
        meta = dict(metadata or {})
        spec = await self.get_model(model)
        labels = tuple(spec.class_labels or ())
        truth, pred, proba = performance._values(y_true), performance._values(y_pred), performance._values(y_pred_proba)
        at = performance.batch_time(time, meta)
        batch_id = performance.batch_id_of(truth, pred, proba, meta, at)
        rows, label_rows = performance.tracked_rows(spec.task, labels, truth, pred, proba, batch_id, at, features)
        await self.log_predictions(model, rows, version=version, idempotency_key=f"{batch_id}:predictions")
        await self.log_labels(model, label_rows, idempotency_key=f"{batch_id}:labels")
        body = {"prediction_ids": [r["prediction_id"] for r in rows], "start": at.isoformat(), "end": at.isoformat(),
                "batch_id": batch_id, "version": version, "retrain_at": retrain_at,
                "thresholds": dict(thresholds) if thresholds else None}
        report = analyses.parse_json(*await self._send(performance.batch_performance(model, body)))
        return performance.tracked_result(report, meta)

    async def compare(self, model: str, start: Any, end: Any, *, versions: Any = None, segment: str | None = None,
                      values: Any = None, store: bool = False, **params: Any) -> Any:
        """Each metric of two versions (`versions=("a", "b")`) or two values of a segment (`segment="region",
        values=("eu", "us")`) over [start, end): one row per metric (value_a, value_b, difference, lower,
        upper, p_value, test) as a Polars frame."""
        q = {"versions": versions, "segment": segment, "values": values, **params}
        report = analyses.parse_json(*await self._send(performance.compare(model, start, end, store, q)))
        return analyses.frame(performance.compare_rows(report))

    async def estimated_performance(self, model: str, start: Any, end: Any, *, store: bool = True, **params: Any) -> Any:
        """As `Client.estimated_performance`."""
        report = analyses.parse_json(*await self._send(performance.estimated_performance(model, start, end, store, params)))
        return analyses.frame(performance.estimate_rows(report))

    async def archive(self, model: str, version: str) -> VersionInfo:
        return calls.parse_version(*await self._send(calls.archive(model, version)))

    # window reads (engine.sdk.reads: one row per bucket and group, one column per metric)

    async def get_version(self, model: str, version: str) -> VersionInfo:
        return calls.parse_version(*await self._send(reads.get_version(model, version)))

    async def window_metrics(
        self, model: str, start: datetime, end: datetime, *, granularity: str = "auto",
        group_by: str | Sequence[str] | None = None, filter: Mapping[str, str] | None = None,
        metrics: Sequence[str] | None = None, include: Sequence[str] = (), max_points: int | None = None,
        frame: reads.FrameKind = "polars",
    ) -> Any:
        """Derived metrics per bucket (and group) over exactly [start, end), as `GET …/windows/metrics`
        answers them: a Polars frame (`frame="pandas"` for pandas) with `<metric>`, `<metric>_n` (sample
        size), `<metric>_lo` / `_hi` (Wilson 95 %) and `<metric>_error_bound` columns."""
        call = reads.model_metrics(model, start, end, granularity, group_by, filter, metrics, include, max_points)
        return reads.metric_frame(*await self._send(call), frame)

    async def custom_metric_windows(
        self, name: str, start: datetime, end: datetime, *, granularity: str = "auto", model: str | None = None,
        group_by: str | None = None, frame: reads.FrameKind = "polars",
    ) -> Any:
        """A custom metric per bucket (and tag value): count, mean, std, min, max, sum."""
        call = reads.custom_metrics(name, start, end, granularity, model, group_by)
        return reads.custom_metric_frame(*await self._send(call), frame)

    async def feature_windows(
        self, model: str, start: datetime, end: datetime, *, granularity: str = "auto",
        features: Sequence[str] | None = None, frame: reads.FrameKind = "polars",
    ) -> Any:
        """Per-bucket feature histograms against the active baselines: n, missing, out_of_range, counts."""
        call = reads.feature_windows(model, start, end, granularity, features)
        return reads.feature_frame(*await self._send(call), frame)

    async def list_metrics(self, model: str | None = None, *, frame: reads.FrameKind = "polars") -> Any:
        """The custom metric series (name, model, first, last, count), of one model with `model=`."""
        return reads.metric_list_frame(*await self._send(reads.list_metrics(model)), frame)

    # analytics-pipeline jobs (server-side Parquet files under the server's DRIFTLINE_ANALYTICS_INPUT_ROOT)

    async def list_analytics_jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = analyses.parse_json(*await self._send(analytics_jobs.list_jobs()))["jobs"]
        return jobs

    async def create_analytics_job(self, job_id: str, model_name: str, metrics_path: str, predictions_path: str,
                             frequency: str = "daily") -> dict[str, Any]:
        """Create a job (the same body again is a no-op; a different one raises a 409 DriftlineAPIError)."""
        call = analytics_jobs.create_job(job_id, model_name, metrics_path, predictions_path, frequency)
        job: dict[str, Any] = analyses.parse_json(*await self._send(call))
        return job

    async def get_analytics_job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = analyses.parse_json(*await self._send(analytics_jobs.get_job(job_id)))
        return job

    async def run_analytics_job(self, job_id: str) -> dict[str, Any]:
        """Run the job's batch now: `{"run": …, "result": batch summary or None}`; a 409 DriftlineAPIError
        while another run of the job is going."""
        done: dict[str, Any] = analyses.parse_json(*await self._send(analytics_jobs.run_job(job_id)))
        return done

    async def analytics_job_runs(self, job_id: str, limit: int = 100) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = analyses.parse_json(*await self._send(analytics_jobs.job_runs(job_id, limit)))["runs"]
        return runs

    async def delete_analytics_job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = analyses.parse_json(*await self._send(analytics_jobs.delete_job(job_id)))
        return job

    # ingest

    async def log_predictions(
        self, model: str, rows_or_frame: object, version: str | None = None, partial: bool = False,
        segment_columns: Sequence[str] = (), *, batch_size: int | None = None, on_batch: BatchCallback | None = None,
        idempotency_key: str | None = None,
    ) -> IngestSummary:
        target = calls.predictions_target(model, version, partial, segment_columns, idempotency_key)
        return await self._ingest(target, rows_or_frame, batch_size, on_batch)

    async def delete_predictions(self, model: str, prediction_ids: Sequence[str] | None = None, *,
                           start: datetime | None = None, end: datetime | None = None) -> int:
        """Delete the model's predictions with these ids, those in [start, end), or the ids within it (at least
        one of the two); returns how many were deleted. Their windows are recomputed at the next refresh, and
        a label still pending for one of them is dropped."""
        out: dict[str, Any] = analyses.parse_json(*await self._send(calls.delete_predictions(model, prediction_ids, start, end)))
        return int(out["deleted"])

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
