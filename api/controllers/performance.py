"""Performance analyses of a model over a window: label-free estimates (CBPE) beside the realised metrics.
Thin: parameters in, service call, typed result out. The controller provides its own services."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery

from api.controllers.windows import parse_filters
from api.schemas import error_responses
from engine.services.analyses.estimate import EstimatedPerformance, EstimateService
from engine.store.unit import UnitOfWork


def provide_estimate_service(uow: UnitOfWork) -> EstimateService:
    return EstimateService(uow)


class PerformanceController(Controller):
    path = "/api/v1/models/{name:str}"
    tags = ["analyses"]
    dependencies = {"estimate_service": Provide(provide_estimate_service, sync_to_thread=False)}

    @get("/estimated-performance", responses=error_responses(400, 401, 404, 422, 503))
    async def estimated_performance(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], estimate_service: EstimateService,
        version: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
        n_draws: FromQuery[int] = 200, confidence: FromQuery[float] = 0.95, seed: FromQuery[int] = 0,
    ) -> EstimatedPerformance:
        """Label-free estimates (CBPE, calibrated on the active baseline) of the deployed decision's metrics
        over [start, end), with the realised metrics of the labelled rows beside them; nothing is stored.
        `filter`: `key=value` pairs of declared dimensions; `version`: one version's rows."""
        return await estimate_service.estimate(name, start, end, version=version, segment=parse_filters(filter),
                                               n_draws=n_draws, confidence=confidence, seed=seed, persist=False)

    @post("/estimated-performance", status_code=200, responses=error_responses(400, 401, 404, 422, 503))
    async def run_estimated_performance(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], estimate_service: EstimateService,
        version: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
        n_draws: FromQuery[int] = 200, confidence: FromQuery[float] = 0.95, seed: FromQuery[int] = 0,
    ) -> EstimatedPerformance:
        """As GET, and the result is stored in `analysis_results` (analysis `estimated_performance`,
        replacing an earlier run of the same window, version and segment)."""
        return await estimate_service.estimate(name, start, end, version=version, segment=parse_filters(filter),
                                               n_draws=n_draws, confidence=confidence, seed=seed, persist=True)
