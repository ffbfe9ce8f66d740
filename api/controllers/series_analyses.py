"""Analyses of a metric series (a model metric of the prediction windows, or a custom metric): trend,
anomalies and change points.
Thin: parameters in, service call, typed result out."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery

from api.controllers.windows import parse_filters
from api.openapi_docs import AnomalyFit, AnomalyMethod, Granularity
from api.schemas import error_responses
from engine.services.analyses.anomalies import AnomalyReport, AnomalyService
from engine.services.analyses.trend import MIN_SAMPLES, TrendReport, TrendService
from engine.store.unit import UnitOfWork


def provide_trend_service(uow: UnitOfWork) -> TrendService:
    return TrendService(uow)


def provide_anomaly_service(uow: UnitOfWork) -> AnomalyService:
    return AnomalyService(uow)


class SeriesAnalysesController(Controller):
    path = "/api/v1/models/{name:str}"
    tags = ["analyses"]
    dependencies = {"trend_service": Provide(provide_trend_service, sync_to_thread=False),
                    "anomaly_service": Provide(provide_anomaly_service, sync_to_thread=False)}

    @get("/trend", responses=error_responses(400, 401, 404, 422, 503))
    async def trend(
        self, name: str, metric: FromQuery[str], start: FromQuery[datetime], end: FromQuery[datetime],
        trend_service: TrendService, granularity: Granularity = "auto", custom: FromQuery[bool] = False,
        higher_is_better: FromQuery[bool | None] = None, alpha: FromQuery[float] = 0.05,
        min_samples: FromQuery[int] = MIN_SAMPLES, min_bucket_samples: FromQuery[int] = 1, filter: FromQuery[str | None] = None,
        version: FromQuery[str | None] = None,
    ) -> TrendReport:
        """Trend of `metric` per bucket over [start, end): linear slope (CI, p-value) and Mann–Kendall with Sen's
        slope, per day; direction by whether higher is better (`custom=true`: a custom metric's bucket means)."""
        return await trend_service.trend(name, metric, start, end, granularity=granularity, custom=custom,
                                         higher_is_better_override=higher_is_better, alpha=alpha,
                                         min_samples=min_samples, min_bucket_samples=min_bucket_samples,
                                         filters=parse_filters(filter), version=version)

    @post("/trend", status_code=200, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def run_trend(
        self, name: str, metric: FromQuery[str], start: FromQuery[datetime], end: FromQuery[datetime],
        trend_service: TrendService, granularity: Granularity = "auto", custom: FromQuery[bool] = False,
        higher_is_better: FromQuery[bool | None] = None, alpha: FromQuery[float] = 0.05,
        min_samples: FromQuery[int] = MIN_SAMPLES, min_bucket_samples: FromQuery[int] = 1, filter: FromQuery[str | None] = None,
        version: FromQuery[str | None] = None,
    ) -> TrendReport:
        """As GET, and the result is stored in `analysis_results`."""
        return await trend_service.trend(name, metric, start, end, granularity=granularity, custom=custom,
                                         higher_is_better_override=higher_is_better, alpha=alpha,
                                         min_samples=min_samples, min_bucket_samples=min_bucket_samples,
                                         filters=parse_filters(filter), version=version, persist=True)

    @get("/anomalies", responses=error_responses(400, 401, 404, 422, 503))
    async def anomalies(
        self, name: str, metric: FromQuery[str], start: FromQuery[datetime], end: FromQuery[datetime],
        anomaly_service: AnomalyService, method: AnomalyMethod = "mad", granularity: Granularity = "auto",
        custom: FromQuery[bool] = False, fit: AnomalyFit = "reference",
        reference_end: FromQuery[datetime | None] = None, reference_fraction: FromQuery[float] = 0.5,
        threshold: FromQuery[float | None] = None, period: FromQuery[int | None] = None,
        min_bucket_samples: FromQuery[int] = 1, filter: FromQuery[str | None] = None,
        version: FromQuery[str | None] = None,
    ) -> AnomalyReport:
        """Point anomalies (zscore, iqr, mad, ewma, seasonal; fitted on the buckets before `reference_end` or the
        first `reference_fraction`, or `fit=whole`, also rolling_zscore) or change points (adwin, page_hinkley,
        kswin, cusum; 1-minute series by default) in `metric` over [start, end)."""
        return await anomaly_service.anomalies(
            name, metric, start, end, method=method, granularity=granularity, custom=custom, fit=fit,
            reference_end=reference_end, reference_fraction=reference_fraction, threshold=threshold, period=period,
            min_bucket_samples=min_bucket_samples, filters=parse_filters(filter),
            version=version,
        )
