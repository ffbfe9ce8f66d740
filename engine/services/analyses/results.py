"""Reading stored analysis results (long format, one statistic per row)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import msgspec

from engine.errors import RowError, ValidationError
from engine.store import models_repo, results_repo
from engine.store.unit import UnitOfWork

MAX_ROWS = 100_000


class ResultOut(msgspec.Struct, frozen=True):
    window_start: datetime
    window_end: datetime
    analysis: str
    run_key: str
    subject: str
    statistic: str
    value: float | None
    threshold: float | None
    bound: float | None
    status: str
    n: int | None
    details: dict[str, Any] | None
    computed_at: datetime


class AnalysisResults(msgspec.Struct, frozen=True):
    model: str
    start: datetime
    end: datetime
    analysis: str | None
    results: tuple[ResultOut, ...]


class ResultsService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def results(self, model: str, start: datetime, end: datetime, analysis: str | None = None) -> AnalysisResults:
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise ValidationError([RowError(None, "start/end", "timezone-aware, end after start")])
        async with self.uow.snapshot() as snap:
            info = await models_repo.get_model(snap.conn, model)
            rows = await results_repo.read_results(snap.conn, info.id, analysis, start, end, MAX_ROWS)
        out = tuple(
            ResultOut(**{**dict(r), "details": json.loads(r["details"]) if r["details"] is not None else None})
            for r in rows
        )
        return AnalysisResults(model, start, end, analysis, out)
