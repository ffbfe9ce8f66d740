"""Performance analyses of a model over a window: label-free estimates (CBPE) beside the realised metrics.
Thin: parameters in, service call, typed result out. The controller provides its own services."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery

from api.controllers.windows import parse_filters
from api.schemas import error_responses
from engine.errors import RowError, ValidationError
from engine.services.analyses.batch import BatchPerformance, BatchPerformanceRequest, BatchPerformanceService
from engine.services.analyses.compare import CompareService, Comparison
from engine.services.analyses.estimate import EstimatedPerformance, EstimateService
from engine.store.unit import UnitOfWork


def provide_estimate_service(uow: UnitOfWork) -> EstimateService:
    return EstimateService(uow)


def provide_compare_service(uow: UnitOfWork) -> CompareService:
    return CompareService(uow)


def provide_batch_service(uow: UnitOfWork) -> BatchPerformanceService:
    return BatchPerformanceService(uow)


def _pair(field: str, csv: str | None) -> tuple[str, str] | None:
    if csv is None:
        return None
    items = [x.strip() for x in csv.split(",") if x.strip()]
    if len(items) != 2:
        raise ValidationError([RowError(None, field, f"{csv!r}: two comma-separated values, e.g. a,b")])
    return items[0], items[1]


class PerformanceController(Controller):
    path = "/api/v1/models/{name:str}"
    tags = ["analyses"]
    dependencies = {
        "estimate_service": Provide(provide_estimate_service, sync_to_thread=False),
        "compare_service": Provide(provide_compare_service, sync_to_thread=False),
        "batch_service": Provide(provide_batch_service, sync_to_thread=False),
    }

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

    @post("/estimated-performance", status_code=200, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def run_estimated_performance(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], estimate_service: EstimateService,
        version: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
        n_draws: FromQuery[int] = 200, confidence: FromQuery[float] = 0.95, seed: FromQuery[int] = 0,
    ) -> EstimatedPerformance:
        """As GET, and the result is stored in `analysis_results` (analysis `estimated_performance`,
        replacing an earlier run of the same window, version and segment)."""
        return await estimate_service.estimate(name, start, end, version=version, segment=parse_filters(filter),
                                               n_draws=n_draws, confidence=confidence, seed=seed, persist=True)

    async def _compare(
        self, compare_service: CompareService, name: str, start: datetime, end: datetime, versions: str | None,
        segment: str | None, values: str | None, confidence: float, n_draws: int, seed: int, persist: bool,
    ) -> Comparison:
        return await compare_service.compare(
            name, start, end, versions=_pair("versions", versions), segment=segment, values=_pair("values", values),
            confidence=confidence, n_draws=n_draws, seed=seed, persist=persist)

    @get("/compare", responses=error_responses(400, 401, 404, 422, 503))
    async def compare(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], compare_service: CompareService,
        versions: FromQuery[str | None] = None, segment: FromQuery[str | None] = None,
        values: FromQuery[str | None] = None, confidence: FromQuery[float] = 0.95, n_draws: FromQuery[int] = 2000,
        seed: FromQuery[int] = 0,
    ) -> Comparison:
        """Each metric of two versions (`versions=a,b`) or two values of a segment (`segment=region&values=eu,us`)
        over [start, end): values, difference b − a, confidence interval, p-value and the test used; nothing
        is stored."""
        return await self._compare(compare_service, name, start, end, versions, segment, values, confidence,
                                   n_draws, seed, False)

    @post("/compare", status_code=200, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def run_compare(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], compare_service: CompareService,
        versions: FromQuery[str | None] = None, segment: FromQuery[str | None] = None,
        values: FromQuery[str | None] = None, confidence: FromQuery[float] = 0.95, n_draws: FromQuery[int] = 2000,
        seed: FromQuery[int] = 0,
    ) -> Comparison:
        """As GET, and the result is stored in `analysis_results` (analysis `comparison`)."""
        return await self._compare(compare_service, name, start, end, versions, segment, values, confidence,
                                   n_draws, seed, True)

    # The SDK's track_performance calls it right after logging the batch, with the pipeline's ingest key.
    @post("/batch-performance", status_code=200, opt={"scope": "ingest"}, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def batch_performance(
        self, name: str, data: BatchPerformanceRequest, batch_service: BatchPerformanceService,
    ) -> BatchPerformance:
        """A logged, labelled batch (its prediction ids in [start, end]): its metrics, their degradation against
        the active baseline's reference metrics (seed 004's thresholds unless `thresholds` are given),
        severity and retraining flag; stored in `analysis_results` (analysis `batch_performance`, run key =
        `batch_id`). What the SDK's `track_performance` calls after logging the batch."""
        return await batch_service.evaluate(name, data)
