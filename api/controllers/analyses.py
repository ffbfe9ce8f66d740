"""Analyses of a model over a window: drift (computed, or computed and persisted), and the persisted results.
Thin: parameters in, service call, typed result out."""

from __future__ import annotations

from datetime import datetime, timedelta

from litestar import Controller, get, post
from litestar.params import FromQuery

from api.controllers.windows import parse_filters
from api.openapi_docs import DriftRule, DriftThresholdMode
from api.schemas import error_responses
from engine.errors import RowError, ValidationError
from engine.services.analyses.drift import DriftReport, DriftService
from engine.services.analyses.results import AnalysisResults, ResultsService

MAX_SLIDING_HOURS = 24 * 366 * 10


def _names(csv: str | None) -> tuple[str, ...] | None:
    names = tuple(x.strip() for x in csv.split(",") if x.strip()) if csv else ()
    return names or None


class AnalysesController(Controller):
    path = "/api/v1/models/{name:str}"
    tags = ["analyses"]

    async def _drift(
        self, drift_service: DriftService, name: str, start: datetime, end: datetime, persist: bool,
        reference_start: datetime | None, reference_end: datetime | None, sliding_hours: float | None,
        methods: str | None, features: str | None, rule: str, sustain: int, threshold_mode: str,
        threshold: float | None, k: float, exact: bool, row_cap: int, version: str | None, filter: str | None,
    ) -> DriftReport:
        if sliding_hours is not None and sliding_hours != 0 and not 0 < sliding_hours <= MAX_SLIDING_HOURS:
            # a huge float overflows timedelta (a 500 schemathesis found): refuse it as input
            raise ValidationError([RowError(None, "sliding_hours", f"0 to {MAX_SLIDING_HOURS} hours")])
        sliding = timedelta(hours=sliding_hours) if sliding_hours else None
        return await drift_service.drift(
            name, start, end, reference_start=reference_start, reference_end=reference_end, sliding=sliding,
            methods=_names(methods), features=_names(features), rule=rule,  # type: ignore[arg-type]
            sustain=sustain, threshold_mode=threshold_mode, threshold=threshold, k=k,  # type: ignore[arg-type]
            exact=exact, row_cap=row_cap, persist=persist, version=version, filters=parse_filters(filter) or None,
        )

    @get("/drift", responses=error_responses(400, 401, 404, 422, 503))
    async def drift(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], drift_service: DriftService,
        reference_start: FromQuery[datetime | None] = None, reference_end: FromQuery[datetime | None] = None,
        sliding_hours: FromQuery[float | None] = None, methods: FromQuery[str | None] = None,
        features: FromQuery[str | None] = None, rule: DriftRule = "sustained", sustain: FromQuery[int] = 4,
        threshold_mode: DriftThresholdMode = "fixed", threshold: FromQuery[float | None] = None,
        k: FromQuery[float] = 3.0, exact: FromQuery[bool] = False, row_cap: FromQuery[int] = 50_000,
        version: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
    ) -> DriftReport:
        """Drift of each feature over [start, end) against the active baseline (default), a reference window
        (`reference_start`/`reference_end`) or the `sliding_hours` before the window; nothing is stored.
        `version` and / or `filter` (`region=eu`) restrict the rows (binned from raw rows: `source: raw_rows`)."""
        return await self._drift(drift_service, name, start, end, False, reference_start, reference_end,
                                 sliding_hours, methods, features, rule, sustain, threshold_mode, threshold, k,
                                 exact, row_cap, version, filter)

    @post("/drift", status_code=200, responses=error_responses(400, 401, 404, 415, 422, 503))
    async def run_drift(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], drift_service: DriftService,
        reference_start: FromQuery[datetime | None] = None, reference_end: FromQuery[datetime | None] = None,
        sliding_hours: FromQuery[float | None] = None, methods: FromQuery[str | None] = None,
        features: FromQuery[str | None] = None, rule: DriftRule = "sustained", sustain: FromQuery[int] = 4,
        threshold_mode: DriftThresholdMode = "fixed", threshold: FromQuery[float | None] = None,
        k: FromQuery[float] = 3.0, exact: FromQuery[bool] = False, row_cap: FromQuery[int] = 50_000,
        version: FromQuery[str | None] = None, filter: FromQuery[str | None] = None,
    ) -> DriftReport:
        """As GET, and the result is stored in `analysis_results` (replacing an earlier run of the same window)."""
        return await self._drift(drift_service, name, start, end, True, reference_start, reference_end,
                                 sliding_hours, methods, features, rule, sustain, threshold_mode, threshold, k,
                                 exact, row_cap, version, filter)

    @get("/results", responses=error_responses(400, 401, 404, 422, 503))
    async def results(
        self, name: str, start: FromQuery[datetime], end: FromQuery[datetime], results_service: ResultsService,
        analysis: FromQuery[str | None] = None,
    ) -> AnalysisResults:
        """Stored analysis results of windows overlapping [start, end), one statistic per row."""
        return await results_service.results(name, start, end, analysis)
