"""Baselines of a model: create from a stored range or from uploaded reference data, list, get, activate,
delete. One active baseline per model; activating one makes its feature bins the ones the feature windows
are binned against and records the retained history as pending 'features' ranges (a trigger), which the
refresher re-buckets in the background; reads of not-yet-re-bucketed ranges are computed from raw rows.

Activating a baseline (on creation or later) gives the model the default monitor when it has none of that
name (`engine.services.monitors.service.ensure_default_monitor`, in the same transaction).

`BaselineService(uow)` on the caller's unit of work; every write is one transaction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec
import numpy as np
import polars as pl

from engine.domain import FeatureBaseline, ModelSpec
from engine.errors import NotFoundError, RowError, ValidationError
from engine.ingest.magnitude import MAGNITUDE_REASON, out_of_bounds
from engine.services.baselines.content import N_BINS, ReferenceData, build_content
from engine.services.baselines.sample import reference_sample
from engine.services.monitors.service import ensure_default_monitor
from engine.store import baselines_repo, models_repo, samples_repo
from engine.store.unit import UnitOfWork

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_REFERENCE_ROWS = 2_000_000
PREDICTION_COLUMNS = ("time", "score", "probabilities", "predicted_class", "predicted_value", "label")


class BaselineInfo(msgspec.Struct, frozen=True):
    name: str
    source: str
    version: str | None
    range_start: datetime | None
    range_end: datetime | None
    n_rows: int
    n_bins: int
    chunking: str
    active: bool
    created_at: datetime
    activated_at: datetime | None


class BaselineDetail(msgspec.Struct, frozen=True):
    """A baseline with its per-feature bins (`features`), its reference prediction distribution, reference
    performance metrics with sample size, and the chunking used for calibrated thresholds."""

    info: BaselineInfo
    features: tuple[FeatureBaseline, ...]
    predictions: dict[str, Any]
    performance: dict[str, Any]
    chunks: int


def _info(r: baselines_repo.BaselineRow) -> BaselineInfo:
    return BaselineInfo(
        r.name, r.source, r.version, r.range_start, r.range_end, r.n_rows, r.n_bins, r.chunking, r.active,
        r.created_at, r.activated_at,
    )


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValidationError([RowError(None, "name", "1–128 characters: letters, digits, '_', '.', ':', '-'")])


def _magnitude_errors(values: pl.Series, field: str, most: int = 10) -> list[RowError]:
    """The first rows whose value ingest would refuse for its magnitude (`engine.ingest.magnitude`): the
    baseline's sums of squares are float8 too."""
    bad = out_of_bounds(values).arg_true().head(most).to_list()
    return [RowError(int(i), field, MAGNITUDE_REASON) for i in bad]


def reference_from_frame(model: ModelSpec, frame: pl.DataFrame) -> ReferenceData:
    """Reference data from a frame with one column per feature (by name) and optionally `time`, `score`,
    `probabilities`, `predicted_class`, `predicted_value`, `label` (class or value by the model's task)."""
    known = {f.name for f in model.features} | set(PREDICTION_COLUMNS)
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise ValidationError([RowError(None, c, "not a feature of the model nor a prediction column") for c in unknown])
    numeric: dict[str, Any] = {}
    categorical: dict[str, list[str | None]] = {}
    errors: list[RowError] = []
    for f in model.numeric_features:
        if f.name in frame.columns:
            try:
                values = frame[f.name].cast(pl.Float64)
            except pl.exceptions.PolarsError:
                errors.append(RowError(None, f.name, "a numeric feature needs numbers"))
                continue
            errors.extend(_magnitude_errors(values, f.name))
            numeric[f.name] = values.fill_null(np.nan).to_numpy()
    for name in ("predicted_value", "label") if model.task == "regression" else ():
        if name in frame.columns and frame[name].dtype.is_numeric():
            errors.extend(_magnitude_errors(frame[name].cast(pl.Float64), name))
    for f in model.categorical_features:
        if f.name in frame.columns:
            categorical[f.name] = [None if v is None else str(v) for v in frame[f.name].to_list()]
    if errors:
        raise ValidationError(errors)

    def col(name: str) -> pl.Series | None:
        return frame[name] if name in frame.columns else None

    def floats(s: pl.Series | None) -> Any:
        return s.cast(pl.Float64).fill_null(np.nan).to_numpy() if s is not None else None

    def strings(s: pl.Series | None) -> list[str | None] | None:
        return [None if v is None else str(v) for v in s.to_list()] if s is not None else None

    times = None
    if (t := col("time")) is not None:
        if t.dtype == pl.String:
            t = t.str.to_datetime(time_zone="UTC")
        elif isinstance(t.dtype, pl.Datetime) and t.dtype.time_zone is None:
            t = t.dt.replace_time_zone("UTC")
        times = t.to_list()
    score = floats(col("score"))
    predicted_class = strings(col("predicted_class"))
    if model.task == "binary" and predicted_class is None and score is not None:
        labels = model.class_labels or ("0", "1")
        predicted_class = [None if not np.isfinite(s) else labels[1] if s >= model.threshold else labels[0] for s in score]
    label = col("label")
    return ReferenceData(
        numeric=numeric,
        categorical=categorical,
        times=times,
        score=score,
        probabilities=col("probabilities").to_list() if col("probabilities") is not None else None,  # type: ignore[union-attr]
        predicted_class=predicted_class,
        predicted_value=floats(col("predicted_value")),
        label_class=strings(label) if model.is_classifier else None,
        label_value=floats(label) if not model.is_classifier else None,
        n_rows=frame.height,
    )


class BaselineService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def _store(
        self,
        model: ModelSpec,
        name: str,
        data: ReferenceData,
        source: str,
        version_id: int | None,
        start: datetime | None,
        end: datetime | None,
        activate: bool,
        n_bins: int,
    ) -> BaselineDetail:
        built = build_content(model, data, n_bins)
        sample_num, sample_cat = reference_sample(model, data)
        async with self.uow.transaction() as conn:
            baseline_id = await baselines_repo.insert_baseline(
                conn, model.id, version_id, name, source, start, end, data.n_rows, n_bins, built.chunking,
                built.content, built.features,
            )
            if model.features:  # multivariate drift's reference rows (a model without features has none)
                await samples_repo.insert_sample(conn, baseline_id, sample_num, sample_cat)
            if activate:
                await baselines_repo.activate(conn, model.id, baseline_id)
                await ensure_default_monitor(conn, model, built.content)
        return await self.get(model.name, name)

    async def create_from_range(
        self,
        model: str,
        name: str,
        start: datetime,
        end: datetime,
        version: str | None = None,
        activate: bool = True,
        n_bins: int = N_BINS,
    ) -> BaselineDetail:
        """A baseline from the stored predictions of [start, end) (optionally of one version)."""
        _check_name(name)
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise ValidationError([RowError(None, "start/end", "timezone-aware, end after start")])
        conn = self.uow.conn
        info = await models_repo.get_model(conn, model)
        version_id = None
        if version is not None:
            versions = {v.version: v.id for v in await models_repo.list_versions(conn, info.id)}
            if version not in versions:
                raise NotFoundError(f"model {model!r} has no version {version!r}")
            version_id = versions[version]
        async with self.uow.snapshot() as snap:
            raw = await baselines_repo.reference_rows(
                snap.conn, info.id, start, end, version_id, len(info.numeric_features),
                len(info.categorical_features), MAX_REFERENCE_ROWS + 1,
            )
        if len(raw.times) > MAX_REFERENCE_ROWS:
            raise ValidationError([RowError(None, "start/end", f"more than {MAX_REFERENCE_ROWS} rows; take a shorter range")])
        if not raw.times:
            raise ValidationError([RowError(None, "start/end", "no predictions in this range")])
        data = ReferenceData(
            numeric={f.name: raw.num[:, f.position - 1] for f in info.numeric_features},
            categorical={f.name: [r[f.position - 1] for r in raw.cat] for f in info.categorical_features},
            times=raw.times,
            score=raw.score,
            probabilities=raw.probabilities,
            predicted_class=raw.predicted_class,
            predicted_value=raw.predicted_value,
            label_class=raw.label_class,
            label_value=raw.label_value,
            n_rows=len(raw.times),
        )
        return await self._store(info, name, data, "range", version_id, start, end, activate, n_bins)

    async def create_from_frame(
        self, model: str, name: str, frame: pl.DataFrame, activate: bool = True, n_bins: int = N_BINS
    ) -> BaselineDetail:
        """A baseline from uploaded reference data (see `reference_from_frame` for the columns)."""
        _check_name(name)
        if not 2 <= n_bins <= 1000:
            raise ValidationError([RowError(None, "n_bins", "between 2 and 1000")])
        info = await models_repo.get_model(self.uow.conn, model)
        data = reference_from_frame(info, frame)
        return await self._store(info, name, data, "upload", None, None, None, activate, n_bins)

    async def list(self, model: str) -> tuple[BaselineInfo, ...]:
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            return tuple(_info(r) for r in await baselines_repo.list_baselines(snap.conn, info.id))

    async def get(self, model: str, name: str) -> BaselineDetail:
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            row = await baselines_repo.get_baseline(snap.conn, info.id, name)
            bins = await baselines_repo.feature_bins(snap.conn, row.id)
        content = row.content or {}
        return BaselineDetail(
            _info(row), tuple(bins), content.get("predictions", {}), content.get("performance", {}),
            len(content.get("chunks", {}).get("n", [])),
        )

    async def activate(self, model: str, name: str) -> BaselineDetail:
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            row = await baselines_repo.get_baseline(conn, info.id, name)
            await baselines_repo.activate(conn, info.id, row.id)
            await ensure_default_monitor(conn, info, row.content or {})
        return await self.get(model, name)

    async def delete(self, model: str, name: str) -> BaselineInfo:
        """Delete a baseline (its feature bins go with it); returns what was deleted."""
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            row = await baselines_repo.get_baseline(conn, info.id, name)
            await baselines_repo.delete(conn, row.id)
        return _info(row)
