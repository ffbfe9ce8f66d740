"""Seed 000's analytics endpoints, mapped onto the windows: `GET /analytics/model/{name}/metrics` (every
derived metric of the model's task) and `GET /analytics/model/{name}/predictions` (throughput, score or
prediction mean, latency percentiles, label coverage and delay). Without `start`/`end` they cover the last
24 hours up to the end of the current minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Controller, get
from litestar.params import FromQuery

from api.openapi_docs import Granularity
from api.schemas import error_responses
from engine.services.windows import MetricSeries, WindowsService
from engine.windows.catalog import GENERAL

DEFAULT_SPAN = timedelta(hours=24)


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """By default the 24 hours up to the end of the current minute: reads are exact to the minute, so a
    default range on minute edges is answered as it is, 24 hours long."""
    if end is None:
        now = datetime.now(UTC)
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return (start or end - DEFAULT_SPAN), end


class AnalyticsController(Controller):
    path = "/analytics/model"
    tags = ["analytics"]

    @get("/{name:str}/metrics", responses=error_responses(400, 401, 404, 422, 503))
    async def model_metrics(
        self, name: str, windows_service: WindowsService, start: FromQuery[datetime | None] = None,
        end: FromQuery[datetime | None] = None, granularity: Granularity = "auto",
        group_by: FromQuery[str | None] = None,
    ) -> MetricSeries:
        lo, hi = _range(start, end)
        return await windows_service.model_metrics(name, lo, hi, granularity, group_by, None, wire=True)

    @get("/{name:str}/predictions", responses=error_responses(400, 401, 404, 422, 503))
    async def prediction_analytics(
        self, name: str, windows_service: WindowsService, start: FromQuery[datetime | None] = None,
        end: FromQuery[datetime | None] = None, granularity: Granularity = "auto",
        group_by: FromQuery[str | None] = None,
    ) -> MetricSeries:
        lo, hi = _range(start, end)
        return await windows_service.model_metrics(name, lo, hi, granularity, group_by, list(GENERAL), wire=True)
