"""Baselines of a model: create (from a stored range, or uploaded reference data), list, get, activate,
delete. Thin: parameters in, `BaselineService` call, its typed result out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import polars as pl
from litestar import Controller, Request, delete, get, post
from litestar.params import FromQuery

from api.bodies import decode_rows_off_loop
from api.schemas import error_responses
from engine.config import Settings
from engine.errors import MalformedBodyError, RowError
from engine.services.baselines.content import N_BINS
from engine.services.baselines.service import BaselineDetail, BaselineInfo, BaselineService


class BaselineFromRange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A baseline from the stored predictions of [start, end), optionally of one version."""

    name: str
    start: datetime
    end: datetime
    version: str | None = None
    activate: bool = True
    n_bins: int = N_BINS


def _frame(decoded: list[Any] | pl.DataFrame) -> pl.DataFrame:
    if isinstance(decoded, pl.DataFrame):
        return decoded
    rows = []
    for i, r in enumerate(decoded):
        if not isinstance(r, dict):
            raise MalformedBodyError([RowError(i, None, "each row must be an object")])
        flat = {k: v for k, v in r.items() if k != "features"}
        if isinstance(r.get("features"), dict):
            flat.update(r["features"])
        rows.append(flat)
    try:
        return pl.from_dicts(rows, infer_schema_length=None)
    except Exception as exc:  # polars refuses columns of mixed types in many ways
        raise MalformedBodyError([RowError(None, "body", f"rows do not form a table: {str(exc)[:200]}")]) from exc


class BaselinesController(Controller):
    path = "/api/v1/models/{name:str}/baselines"
    tags = ["baselines"]

    @get("/", responses=error_responses(401, 404, 503))
    async def list_baselines(self, name: str, baseline_service: BaselineService) -> tuple[BaselineInfo, ...]:
        return await baseline_service.list(name)

    @post("/", responses=error_responses(400, 401, 404, 409, 415, 422, 503))
    async def create_from_range(
        self, name: str, data: BaselineFromRange, baseline_service: BaselineService
    ) -> BaselineDetail:
        """Build a baseline from the stored predictions of [start, end) (activated unless `activate` is false)."""
        return await baseline_service.create_from_range(
            name, data.name, data.start, data.end, data.version, data.activate, data.n_bins
        )

    @post("/upload", responses=error_responses(400, 401, 404, 409, 413, 415, 422, 503))
    async def upload(
        self,
        request: Request[Any, Any, Any],
        name: str,
        baseline: FromQuery[str],
        baseline_service: BaselineService,
        activate: FromQuery[bool] = True,
        n_bins: FromQuery[int] = N_BINS,
    ) -> BaselineDetail:
        """Build a baseline from uploaded reference rows (JSON / NDJSON rows, Arrow IPC or Parquet): one column
        (or `features` key) per feature, optionally `time`, `score`, `probabilities`, `predicted_class`,
        `predicted_value`, `label`."""
        settings: Settings = request.app.state.settings  # the same decoding limits as ingest
        decoded = await decode_rows_off_loop(await request.body(), request.headers.get("content-type"),
                                             settings.decode_limits)
        return await baseline_service.create_from_frame(name, baseline, _frame(decoded), activate, n_bins)

    @get("/{baseline:str}", responses=error_responses(401, 404, 503))
    async def get_baseline(self, name: str, baseline: str, baseline_service: BaselineService) -> BaselineDetail:
        return await baseline_service.get(name, baseline)

    @post("/{baseline:str}/activate", status_code=200, responses=error_responses(401, 404, 415, 503))
    async def activate(self, name: str, baseline: str, baseline_service: BaselineService) -> BaselineDetail:
        """Make this the model's active baseline; the feature windows of the retained history are re-bucketed
        in the background (reads stay exact meanwhile)."""
        return await baseline_service.activate(name, baseline)

    @delete("/{baseline:str}", status_code=200, responses=error_responses(401, 404, 503))
    async def delete_baseline(self, name: str, baseline: str, baseline_service: BaselineService) -> BaselineInfo:
        """Delete a baseline; answers with what was deleted."""
        return await baseline_service.delete(name, baseline)
