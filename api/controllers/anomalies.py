"""Stateless anomaly detection over a series the caller posts. Thin: body in, pure service call, typed result out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post

from api.edge import strict_body
from api.schemas import error_responses
from engine.services.analyses.series_anomalies import SeriesAnomalyReport, SeriesAnomalyRequest, detect_series


class SeriesAnomaliesController(Controller):
    path = "/api/v1/anomalies"
    tags = ["analyses"]

    @post("/", status_code=200, responses=error_responses(400, 401, 415, 422))
    async def detect(self, request: Request[Any, Any, Any], data: SeriesAnomalyRequest) -> SeriesAnomalyReport:
        """Anomalies (zscore, iqr, mad, ewma, seasonal fitted on a reference part; or `fit=whole`, also
        rolling_zscore) or change points (adwin, page_hinkley, kswin, cusum) in the posted `values` (with
        optional `timestamps`); the reference is the points before `reference_end`, the first `reference_size`
        points or the first `reference_fraction`. Nothing is stored. JSON only (415 otherwise); 422 names
        the field and why."""
        # `data` documents the body; it is decoded again strictly ("0.5" is not a number), as every body is
        return detect_series(await strict_body(request, SeriesAnomalyRequest))
