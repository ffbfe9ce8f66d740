"""Time series read from the 1-minute / hourly / daily windows: derived model metrics, custom metrics,
feature histograms. Thin: parameters in, `WindowsService` call, its typed result out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from litestar import Controller, get
from litestar.params import FromQuery

from api.openapi_docs import Granularity
from api.schemas import error_responses
from engine.errors import RowError, ValidationError
from engine.services.window_columns import MetricColumns
from engine.services.windows import CustomMetricSeries, FeatureHistogramSeries, MetricSeries, WindowsService


def _names(csv: str | None) -> list[str] | None:
    return [x.strip() for x in csv.split(",") if x.strip()] if csv else None


def parse_filters(csv: str | None) -> dict[str, str]:
    """`region=eu,device=ios` → {"region": "eu", "device": "ios"}."""
    out: dict[str, str] = {}
    for item in _names(csv) or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(
                [RowError(None, "filter", f"{item!r}: expected key=value")], f"invalid read parameter filter: {item!r}"
            )
        out[key.strip()] = value.strip()
    return out


class WindowsController(Controller):
    path = "/api/v1"
    tags = ["windows"]

    @get("/models/{name:str}/windows/metrics", responses=error_responses(400, 401, 404, 422, 503))
    async def model_metrics(
        self,
        name: str,
        start: FromQuery[datetime],
        end: FromQuery[datetime],
        windows_service: WindowsService,
        granularity: Granularity = "auto",
        group_by: FromQuery[str | None] = None,
        metrics: FromQuery[str | None] = None,
        filter: FromQuery[str | None] = None,
        max_points: FromQuery[int | None] = None,
        include: FromQuery[str | None] = None,
        format: FromQuery[Literal["points", "columns"]] = "points",
    ) -> MetricSeries | MetricColumns:
        """Derived metrics per bucket over exactly [start, end) (edge buckets may be partial):
        granularity 1m / 5m / 15m / 1h / 6h / 1d / 1w, or auto (the finest with at most `max_points`
        buckets); group_by `version` or a declared dimension; filter `key=value` pairs of declared dimensions
        (comma-separated, all must hold); metrics a comma-separated subset (default: all for the model's
        task); include `confusion_matrix`, `class_distribution` (classifiers). Proportions carry Wilson 95 %
        intervals, every metric its sample size (`sample_sizes` by `sample_basis`). format `points` (default:
        one object per bucket and group) or `columns` (`series`: per group, arrays over its buckets — the
        same content, smaller and much faster for long series)."""
        args = (name, start, end, granularity, group_by, _names(metrics), parse_filters(filter), max_points,
                _names(include) or ())
        if format == "columns":
            return await windows_service.model_metric_columns(*args)
        return await windows_service.model_metrics(*args, wire=True)

    @get("/models/{name:str}/windows/features", responses=error_responses(400, 401, 404, 422, 503))
    async def feature_histograms(
        self,
        name: str,
        start: FromQuery[datetime],
        end: FromQuery[datetime],
        windows_service: WindowsService,
        granularity: Granularity = "auto",
        features: FromQuery[str | None] = None,
    ) -> FeatureHistogramSeries:
        """Per-bucket feature histograms against the active baselines (bins, missing, out of range)."""
        return await windows_service.feature_histograms(name, start, end, granularity, _names(features))

    @get("/metrics/{metric:str}/windows", responses=error_responses(400, 401, 404, 422, 503))
    async def custom_metrics(
        self,
        metric: str,
        start: FromQuery[datetime],
        end: FromQuery[datetime],
        windows_service: WindowsService,
        granularity: Granularity = "auto",
        model: FromQuery[str | None] = None,
        group_by: FromQuery[str | None] = None,
    ) -> CustomMetricSeries:
        """A custom metric per bucket: count, mean, std (population), min, max, sum; group_by a tag key."""
        return await windows_service.custom_metrics(metric, start, end, granularity, model, group_by)
