"""Performance against the baseline (degradation, retraining flag) and the performance summary of the last
days. GET computes, POST computes and stores. Thin: parameters in, service call, typed result out."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery

from api.controllers.windows import parse_filters
from api.schemas import error_responses
from engine.services.analyses.degradation import (
    MIN_SAMPLES,
    DegradationReport,
    DegradationService,
    PerformanceSummary,
)
from engine.store.unit import UnitOfWork


def provide_degradation_service(uow: UnitOfWork) -> DegradationService:
    return DegradationService(uow)


class DegradationController(Controller):
    path = "/api/v1/models/{name:str}"
    tags = ["analyses"]
    dependencies = {"degradation_service": Provide(provide_degradation_service, sync_to_thread=False)}

    @get("/degradation", responses=error_responses(400, 401, 404, 422, 503))
    async def degradation(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], degradation_service: DegradationService,
        baseline: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
        version: FromQuery[str | None] = None,
        min_samples: FromQuery[int] = MIN_SAMPLES,
    ) -> DegradationReport:
        """The window's metrics against the baseline's reference metrics (the active baseline unless `baseline`
        names one), with severity and the retraining flag; `filter` key=value segment pairs; nothing stored."""
        return await degradation_service.degradation(name, start, end, baseline=baseline, filters=parse_filters(filter),
                                                     version=version, min_samples=min_samples, persist=False)

    @post("/degradation", status_code=200, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def run_degradation(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], degradation_service: DegradationService,
        baseline: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
        version: FromQuery[str | None] = None,
        min_samples: FromQuery[int] = MIN_SAMPLES,
    ) -> DegradationReport:
        """As GET, and the result is stored in `analysis_results` (replacing an earlier run of the same window)."""
        return await degradation_service.degradation(name, start, end, baseline=baseline, filters=parse_filters(filter),
                                                     version=version, min_samples=min_samples, persist=True)

    @get("/performance-summary", responses=error_responses(400, 401, 404, 422, 503))
    async def performance_summary(
        self, name: str, degradation_service: DegradationService, days: FromQuery[int] = 30,
    ) -> PerformanceSummary:
        """The last `days` days: rows, labelled rows, metrics, the trend of the primary metric and the stored
        degradation alerts."""
        return await degradation_service.performance_summary(name, days, datetime.now(UTC))
