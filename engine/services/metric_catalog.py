"""Which custom metrics exist: `MetricCatalogService(uow).list(model=None)`, one entry per series (name and
model), with the minutes it spans and its row count, from the metric windows (real-time: pending ranges are
counted from raw rows, as every window read does)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from engine.store import models_repo
from engine.store.metric_catalog import list_metric_series
from engine.store.unit import UnitOfWork


class CustomMetricInfo(msgspec.Struct, frozen=True):
    """A custom metric series: `model` is null for metrics logged without a model. `first` is the start of
    the first minute holding a value, `last` the end of the last one, so [first, last) reads it whole."""

    name: str
    model: str | None
    first: datetime
    last: datetime
    count: int


class MetricCatalogService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def list(self, model: str | None = None) -> list[CustomMetricInfo]:
        """Every series, or only those logged for `model` (an unknown model is `NotFoundError`)."""
        async with self.uow.snapshot() as snap:
            model_id = (await models_repo.get_model(snap.conn, model)).id if model is not None else None
            rows = await list_metric_series(snap.conn, model_id)
        return [CustomMetricInfo(r["name"], r["model"], r["first"], r["last"], r["count"]) for r in rows]
