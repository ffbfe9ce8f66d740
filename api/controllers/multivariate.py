"""Multivariate drift of a model's features over a window (domain classifier or PCA reconstruction, from
bounded raw samples). Thin: parameters in, service call, typed result out."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import FromQuery

from api.controllers.windows import parse_filters
from api.schemas import error_responses
from engine.algorithms.drift.mixed_rows import MultivariateParams
from engine.config import Settings
from engine.services.analyses.multivariate import (
    DEFAULT_ROW_CAP,
    MultivariateDriftReport,
    MultivariateDriftService,
)
from engine.store.unit import UnitOfWork


def provide_multivariate_service(uow: UnitOfWork, settings: Settings) -> MultivariateDriftService:
    return MultivariateDriftService(uow, max_row_cap=settings.multivariate_row_cap)


class MultivariateDriftController(Controller):
    path = "/api/v1/models/{name:str}/drift/multivariate"
    tags = ["analyses"]
    dependencies = {"multivariate_service": Provide(provide_multivariate_service, sync_to_thread=False)}

    @get("/", responses=error_responses(400, 401, 404, 422, 503))
    async def multivariate(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime],
        multivariate_service: MultivariateDriftService, method: FromQuery[str] = "domain_classifier",
        reference_start: FromQuery[datetime | None] = None, reference_end: FromQuery[datetime | None] = None,
        version: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
        row_cap: FromQuery[int] = DEFAULT_ROW_CAP, seed: FromQuery[int] = 0, folds: FromQuery[int] = 3,
        null_splits: FromQuery[int] = 5, variance: FromQuery[float] = 0.65, n_chunks: FromQuery[int] = 10,
        k: FromQuery[float] = 3.0, threshold: FromQuery[float | None] = None,
    ) -> MultivariateDriftReport:
        """Multivariate drift over [start, end) (`method=domain_classifier|pca`) against the active baseline's
        reference sample or a reference window, on at most `row_cap` rows per side; nothing is stored."""
        params = MultivariateParams(seed=seed, folds=folds, null_splits=null_splits, variance=variance,
                                    n_chunks=n_chunks, k=k, threshold=threshold)
        return await multivariate_service.multivariate(
            name, start, end, method=method, reference_start=reference_start, reference_end=reference_end,
            version=version, filters=parse_filters(filter), row_cap=row_cap, params=params)

    @post("/", status_code=200, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def run_multivariate(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime],
        multivariate_service: MultivariateDriftService, method: FromQuery[str] = "domain_classifier",
        reference_start: FromQuery[datetime | None] = None, reference_end: FromQuery[datetime | None] = None,
        version: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
        row_cap: FromQuery[int] = DEFAULT_ROW_CAP, seed: FromQuery[int] = 0, folds: FromQuery[int] = 3,
        null_splits: FromQuery[int] = 5, variance: FromQuery[float] = 0.65, n_chunks: FromQuery[int] = 10,
        k: FromQuery[float] = 3.0, threshold: FromQuery[float | None] = None,
    ) -> MultivariateDriftReport:
        """As GET, and the result is stored in `analysis_results` (analysis `multivariate_drift`)."""
        params = MultivariateParams(seed=seed, folds=folds, null_splits=null_splits, variance=variance,
                                    n_chunks=n_chunks, k=k, threshold=threshold)
        return await multivariate_service.multivariate(
            name, start, end, method=method, reference_start=reference_start, reference_end=reference_end,
            version=version, filters=parse_filters(filter), row_cap=row_cap, params=params, persist=True)
