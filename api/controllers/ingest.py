"""Batch ingest of predictions, labels and metrics (JSON, NDJSON, Arrow IPC or Parquet bodies), and deletes of
stored predictions.

`?partial=true` stores the valid rows and keeps the refused ones in rejected_rows; the default refuses the
whole batch on any invalid row (422, nothing written). An `Idempotency-Key` header makes a retried batch
return the first answer without writing again. A delete (a GDPR erasure, a bad backfill) is seen by the
windows at the next refresh on both editions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter

from api.bodies import decode_rows_off_loop
from api.openapi_docs import LabelsOperation, MetricsOperation, PredictionsOperation
from api.schemas import DeletedOut, IngestOut, RejectedOut, error_responses, replayed_response
from engine.config import Settings
from engine.ingest.service import IngestResult, IngestService
from engine.services.metric_catalog import CustomMetricInfo, MetricCatalogService
from engine.services.predictions import PredictionService
from engine.services.store import StoreService

INGEST = {"scope": "ingest"}  # api/auth.py: what an ingest key may call (the default for a POST is admin)
INGEST_RESPONSES = {**replayed_response(), **error_responses(400, 401, 404, 413, 415, 422, 503)}
IdempotencyKey = Annotated[str | None, Parameter(header="Idempotency-Key", required=False, max_length=200)]
PredictionIds = Annotated[
    list[str] | None, Parameter(query="prediction_id", required=False, description="repeat for several ids")
]


def _out(result: IngestResult) -> Response[IngestOut]:
    body = msgspec.convert(result.to_dict(), IngestOut)
    return Response(body, status_code=200 if result.replayed else 201)


async def _rows(request: Request[Any, Any, Any]) -> Any:
    settings: Settings = request.app.state.settings
    return await decode_rows_off_loop(await request.body(), request.headers.get("content-type"),
                                      settings.decode_limits)


class IngestController(Controller):
    path = "/api/v1"
    tags = ["ingest"]

    @post("/models/{name:str}/predictions", opt=INGEST, responses=INGEST_RESPONSES, operation_class=PredictionsOperation)
    async def predictions(
        self, request: Request[Any, Any, Any], name: str, ingest_service: IngestService,
        idempotency_key: IdempotencyKey = None, version: str | None = None, partial: bool = False,
        segment_columns: str | None = None,
    ) -> Response[IngestOut]:
        segs = [s for s in (segment_columns or "").split(",") if s]
        settings: Settings = request.app.state.settings
        result = await ingest_service.log_prediction_body(
            name, await request.body(), request.headers.get("content-type"), settings.decode_limits,
            version=version, partial=partial, idempotency_key=idempotency_key, segment_columns=segs)
        return _out(result)

    @delete("/models/{name:str}/predictions", status_code=200, responses=error_responses(400, 401, 404, 422, 503))
    async def delete_predictions(
        self, name: str, prediction_service: PredictionService, prediction_id: PredictionIds = None,
        start: datetime | None = None, end: datetime | None = None,
    ) -> DeletedOut:
        """Delete the model's predictions with the given ids (`?prediction_id=a&prediction_id=b`), those in
        [start, end), or the given ids within [start, end)."""
        result = await prediction_service.delete(name, prediction_id, start, end)
        return DeletedOut(deleted=result.deleted)

    @post("/models/{name:str}/labels", opt=INGEST, responses=INGEST_RESPONSES, operation_class=LabelsOperation)
    async def labels(
        self, request: Request[Any, Any, Any], name: str, ingest_service: IngestService,
        idempotency_key: IdempotencyKey = None, partial: bool = False,
    ) -> Response[IngestOut]:
        result = await ingest_service.log_labels(name, await _rows(request), partial=partial,
                                                 idempotency_key=idempotency_key)
        return _out(result)

    @post("/metrics", opt=INGEST, responses=INGEST_RESPONSES, operation_class=MetricsOperation)
    async def metrics(
        self, request: Request[Any, Any, Any], ingest_service: IngestService,
        idempotency_key: IdempotencyKey = None, model: str | None = None, partial: bool = False,
    ) -> Response[IngestOut]:
        result = await ingest_service.log_metrics(await _rows(request), model_name=model, partial=partial,
                                                  idempotency_key=idempotency_key)
        return _out(result)

    # Here and not with the window reads: Litestar answers OPTIONS for a path from one controller only.
    @get("/metrics", tags=["windows"], responses=error_responses(400, 401, 404, 503))
    async def list_metrics(
        self, metric_catalog_service: MetricCatalogService, model: str | None = None
    ) -> list[CustomMetricInfo]:
        """The custom metric series (name and model; `model` null for metrics logged without one), with the
        minutes they span ([first, last)) and their row count; `model=` keeps that model's series only."""
        return await metric_catalog_service.list(model)

    @get("/rejected", responses=error_responses(400, 401, 404, 503))
    async def rejected(
        self, store_service: StoreService, model: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=10_000)] = 100,
    ) -> list[RejectedOut]:
        return [msgspec.convert(r, RejectedOut) for r in await store_service.rejected(model, limit)]
