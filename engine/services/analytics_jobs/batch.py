"""The analytics-pipeline seed's batch processor: `run_batch_job(uow, settings, metrics_path,
predictions_path, model_name) -> BatchResult`.

1. Both files are resolved under the input root and checked (`inputs`), hashed (sha256) and read.
2. They go through the ingest service, in one transaction (a bad row anywhere writes nothing), in chunks of
   at most `max_batch_rows`, each chunk under an idempotency key made of the model, the kind, the file's
   sha256 and the chunk's offset: a file ingested before (in this batch or next to another file) replays
   the stored chunk results and writes nothing twice. Predictions are also de-duplicated by id and time;
   custom metrics have no natural key: the idempotency keys keep them single, for as long as
   DRIFTLINE_INGEST_LOG_RETENTION keeps the keys and DRIFTLINE_MAX_BATCH_ROWS (the chunk size) is unchanged.
3. The windows are refreshed once (`engine.rollups.refresher.refresh`, what the worker does: without it each
   analysis re-reads the just-written raw rows; 100k predictions: 28 s → 16 s a run, a rerun 24 s → 4 s).
   The model's analyses run over the files' time range [first minute, last minute + 1) with the existing
   services, their results persisted under the run key `analytics:<batch id>` (a rerun replaces them):
   windows metrics (all of the task's, and the prediction analytics), each custom metric of the file, data
   quality, drift against the active baseline when the model has one, and for the headline metric (accuracy;
   MAE for regression) and each custom metric a trend (`window_size`: the buckets a trend needs, fewer give
   "insufficient_data") and IQR outliers (`outlier_threshold`: Tukey's factor, 1.5).
4. Three JSON files are written atomically into `output_path`: `{model}_metrics_{batch_id}.json`,
   `{model}_predictions_{batch_id}.json`, `batch_summary_{batch_id}.json`. Same inputs, same batch id: a
   rerun overwrites them.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from engine.config import Settings
from engine.errors import RowError, ValidationError
from engine.ingest.metric_frames import metric_rows
from engine.ingest.service import IngestResult, IngestService
from engine.rollups.refresher import refresh
from engine.services.analyses.anomalies import AnomalyReport, AnomalyService
from engine.services.analyses.drift import DriftReport, DriftService
from engine.services.analyses.quality import QualityService
from engine.services.analyses.trend import TrendReport, TrendService
from engine.services.analytics_jobs import outputs
from engine.services.analytics_jobs.inputs import checked_inputs
from engine.services.windows import WindowsService, choose_granularity
from engine.store import baselines_repo, models_repo
from engine.store.unit import UnitOfWork
from engine.windows.catalog import GENERAL

SERIES_POINTS = 200  # buckets of the batch's series ("auto" granularity capped at this many)
MAX_CUSTOM_METRICS = 50  # custom metric names analysed per batch (the rest are ingested, not analysed)
HASH_CHUNK = 1 << 20


class InputFile(msgspec.Struct, frozen=True):
    kind: str  # predictions | metrics
    path: str  # as resolved under the input root
    sha256: str
    bytes: int
    rows: int


class IngestOutcome(msgspec.Struct, frozen=True):
    kind: str
    received: int
    written: int  # rows this run stored (0 for chunks replayed from an earlier run)
    duplicates: int
    replayed_chunks: int


class AnalysisOutcome(msgspec.Struct, frozen=True):
    analysis: str  # model_metrics | prediction_analytics | custom_metric | quality | drift | trend | anomalies
    subject: str
    status: str  # ok | warning | no_data | skipped
    detail: str | None = None


class BatchResult(msgspec.Struct, frozen=True):
    """What one batch did; written as `batch_summary_{batch_id}.json` and returned."""

    batch_id: str
    model: str
    task: str
    start: datetime
    end: datetime
    granularity: str
    window_size: int
    outlier_threshold: float
    inputs: tuple[InputFile, ...]
    ingest: tuple[IngestOutcome, ...]
    rows_ingested: int
    analyses: tuple[AnalysisOutcome, ...]
    output_path: str
    outputs: tuple[str, ...]
    started_at: datetime
    finished_at: datetime
    duration_s: float


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def batch_id_for(model: str, predictions_sha: str, metrics_sha: str) -> str:
    """Deterministic: the same model and file contents give the same id (wherever the files live)."""
    return hashlib.sha256(f"{model}\0{predictions_sha}\0{metrics_sha}".encode()).hexdigest()[:20]


def _outcome(kind: str, results: list[IngestResult]) -> IngestOutcome:
    fresh = [r for r in results if not r.replayed]
    return IngestOutcome(kind, sum(r.received for r in results), sum(r.written for r in fresh),
                         sum(r.duplicates for r in fresh), len(results) - len(fresh))


async def _ingest(uow: UnitOfWork, settings: Settings, model: str, predictions: tuple[str, pl.DataFrame],
                  metrics: tuple[str, pl.DataFrame]) -> tuple[IngestOutcome, IngestOutcome]:
    """Both files in one transaction, chunk by chunk, each chunk keyed by its file's content hash and its
    offset: a file already ingested (in any batch, alongside any other file) replays instead of writing."""
    svc = IngestService(uow, settings.max_batch_rows)
    step = settings.max_batch_rows
    pred: list[IngestResult] = []
    met: list[IngestResult] = []
    (pred_sha, pred_frame), (met_sha, met_frame) = predictions, metrics
    async with uow.transaction():
        for off in range(0, pred_frame.height, step):
            pred.append(await svc.log_predictions(model, pred_frame.slice(off, step),
                                                  idempotency_key=f"analytics:{model}:predictions:{pred_sha}:{off}"))
        for off in range(0, met_frame.height, step):
            met.append(await svc.log_metrics(metric_rows(met_frame.slice(off, step)), model_name=model,
                                             idempotency_key=f"analytics:{model}:metrics:{met_sha}:{off}"))
    return _outcome("predictions", pred), _outcome("metrics", met)


def _time_range(*frames: pl.DataFrame) -> tuple[datetime, datetime]:
    """[first minute, last minute + 1) over the frames' `time` columns (UTC)."""
    times = [t for f in frames if f.height for t in (f.get_column("time").min(), f.get_column("time").max())]
    lo = min(times).astimezone(UTC)  # type: ignore[type-var, union-attr]
    hi = max(times).astimezone(UTC)  # type: ignore[type-var, union-attr]
    return lo.replace(second=0, microsecond=0), hi.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _trend_outcome(r: TrendReport) -> AnalysisOutcome:
    status = {"degrading": "warning", "insufficient_data": "no_data"}.get(r.direction, "ok")
    return AnalysisOutcome("trend", r.metric, status, r.direction)


def _anomaly_outcome(r: AnomalyReport) -> AnalysisOutcome:
    if r.details.get("status"):
        return AnalysisOutcome("anomalies", r.metric, "no_data", str(r.details["status"]))
    return AnalysisOutcome("anomalies", r.metric, "warning" if r.n_anomalies else "ok", f"{r.n_anomalies} outliers")


async def run_batch_job(uow: UnitOfWork, settings: Settings, metrics_path: str, predictions_path: str,
                        model_name: str) -> BatchResult:
    """Ingest the two files and analyse their time range; write the three outputs (see the module doc)."""
    started, clock = datetime.now(UTC), time.perf_counter()
    cfg = settings.analytics
    info = await models_repo.get_model(uow.conn, model_name)
    met_path, pred_path = checked_inputs(cfg.input_root, info, metrics_path, predictions_path)
    (pred_sha, pred_bytes), (met_sha, met_bytes) = await asyncio.gather(
        asyncio.to_thread(_sha256, pred_path), asyncio.to_thread(_sha256, met_path))
    batch_id = batch_id_for(info.name, pred_sha, met_sha)
    predictions, metrics = await asyncio.gather(asyncio.to_thread(pl.read_parquet, pred_path),
                                                asyncio.to_thread(pl.read_parquet, met_path))
    if predictions.height == 0:
        raise ValidationError([RowError(None, "predictions_path", f"{predictions_path!r} has no rows")])
    ingested = await _ingest(uow, settings, info.name, (pred_sha, predictions), (met_sha, metrics))
    if not uow.conn.is_in_transaction():
        # Bring the windows up to date once, so that the analyses below read them rather than each one
        # re-reading the just-written raw rows (the reads are exact either way; the worker would do it soon).
        await refresh(uow)
    start, end = _time_range(predictions, metrics)
    gran = choose_granularity(start, end, "auto", SERIES_POINTS)
    run_key = f"analytics:{batch_id}"
    done: list[AnalysisOutcome] = []

    windows = WindowsService(uow)
    model_metrics = await windows.model_metrics(info.name, start, end, gran.name)
    done.append(AnalysisOutcome("model_metrics", "all", "ok", f"{len(model_metrics.points)} buckets"))
    prediction_analytics = await windows.model_metrics(info.name, start, end, gran.name, metrics=list(GENERAL))
    done.append(AnalysisOutcome("prediction_analytics", "general", "ok", f"{len(prediction_analytics.points)} buckets"))
    names = sorted(set(metrics.get_column("name").drop_nulls().to_list()))[:MAX_CUSTOM_METRICS] if metrics.height else []
    custom = [await windows.custom_metrics(n, start, end, gran.name, model=info.name) for n in names]

    headline = "mae" if info.task == "regression" else "accuracy"
    trends: list[TrendReport] = []
    anomalies: list[AnomalyReport] = []
    trend_svc, anomaly_svc = TrendService(uow), AnomalyService(uow)
    for metric, is_custom in [(headline, False), *((n, True) for n in names)]:
        trends.append(await trend_svc.trend(info.name, metric, start, end, granularity=gran.name, custom=is_custom,
                                            min_samples=cfg.window_size, persist=True, run_key=run_key))
        anomalies.append(await anomaly_svc.anomalies(
            info.name, metric, start, end, method="iqr", fit="whole", granularity=gran.name, custom=is_custom,
            threshold=cfg.outlier_threshold, persist=True, run_key=run_key))
    done += [_trend_outcome(t) for t in trends] + [_anomaly_outcome(a) for a in anomalies]

    quality = await QualityService(uow).quality(info.name, start, end, persist=True, run_key=run_key)
    done.append(AnalysisOutcome("quality", "all", "warning" if quality.n_issues else "ok", f"{quality.n_issues} issues"))
    drift: DriftReport | None = None
    if await baselines_repo.active_baseline_name(uow.conn, info.id) is None:
        done.append(AnalysisOutcome("drift", "all", "skipped", "the model has no active baseline"))
    else:
        drift = await DriftService(uow).drift(info.name, start, end, rule="classic", persist=True, run_key=run_key)
        done.append(AnalysisOutcome("drift", "all", "warning" if drift.dataset_drift else "ok",
                                    f"{drift.n_drifted} of {len(drift.features)} drifted"))

    common: dict[str, Any] = {"batch_id": batch_id, "model": info.name, "task": info.task, "start": start, "end": end,
                              "granularity": gran.name, "window_size": cfg.window_size,
                              "outlier_threshold": cfg.outlier_threshold}
    out_dir = Path(cfg.output_path)
    written = [
        outputs.write_json_atomic(out_dir, outputs.metrics_name(info.name, batch_id), {
            **common, "model_metrics": model_metrics, "custom_metrics": custom, "trends": trends,
            "anomalies": anomalies}),
        outputs.write_json_atomic(out_dir, outputs.predictions_name(info.name, batch_id), {
            **common, "prediction_analytics": prediction_analytics, "quality": quality, "drift": drift}),
    ]
    inputs = (InputFile("predictions", str(pred_path), pred_sha, pred_bytes, predictions.height),
              InputFile("metrics", str(met_path), met_sha, met_bytes, metrics.height))
    names_out = (*(p.name for p in written), outputs.summary_name(batch_id))
    result = BatchResult(batch_id, info.name, info.task, start, end, gran.name, cfg.window_size,
                         cfg.outlier_threshold, inputs, ingested, sum(i.written for i in ingested), tuple(done),
                         str(out_dir), names_out, started, datetime.now(UTC), time.perf_counter() - clock)
    outputs.write_json_atomic(out_dir, outputs.summary_name(batch_id), result)
    return result
