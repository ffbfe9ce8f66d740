"""Data quality and performance degradation of a model over a window: GET computes, POST computes and stores
the result in `analysis_results`. Thin: parameters in, service call, typed result out."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery

from api.schemas import error_responses
from engine.services.analyses.quality import QualityReport, QualityRequest, QualityService
from engine.store.unit import UnitOfWork


def provide_quality_service(uow: UnitOfWork) -> QualityService:
    return QualityService(uow)


class QualityController(Controller):
    path = "/api/v1/models/{name:str}"
    tags = ["analyses"]
    dependencies = {"quality_service": Provide(provide_quality_service, sync_to_thread=False)}

    @get("/quality", responses=error_responses(400, 401, 404, 422, 503))
    async def quality(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], quality_service: QualityService,
        max_missing_rate: FromQuery[float] = 0.05, max_out_of_range_rate: FromQuery[float] = 0.05,
        max_staleness_s: FromQuery[float | None] = None,
    ) -> QualityReport:
        """Missing and out-of-range rates per feature, unseen categories, rows refused at ingest and freshness
        over [start, end); nothing is stored."""
        return await quality_service.quality(name, start, end, max_missing_rate=max_missing_rate,
                                             max_out_of_range_rate=max_out_of_range_rate,
                                             max_staleness_s=max_staleness_s, persist=False)

    @post("/quality", status_code=200, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def run_quality(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], quality_service: QualityService,
        data: QualityRequest | None = None, max_missing_rate: FromQuery[float] = 0.05,
        max_out_of_range_rate: FromQuery[float] = 0.05, max_staleness_s: FromQuery[float | None] = None,
        row_cap: FromQuery[int] = 50_000,
    ) -> QualityReport:
        """As GET, plus the declarative `rules` of the body over up to `row_cap` rows of the window; the result
        is stored in `analysis_results` (replacing an earlier run of the same window)."""
        return await quality_service.quality(name, start, end, rules=data.rules if data else None,
                                             max_missing_rate=max_missing_rate,
                                             max_out_of_range_rate=max_out_of_range_rate,
                                             max_staleness_s=max_staleness_s, row_cap=row_cap, persist=True)
