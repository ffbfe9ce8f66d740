"""A file's rows through the ingest service in batches (the work behind `driftline ingest`).

Atomic mode runs every batch inside one transaction on one connection, so a refused row anywhere leaves
nothing written; partial mode commits batch by batch. Row numbers in errors are file rows (0-based).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from engine.cli.files import Kind, read_frame
from engine.cli.progress import Progress
from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.ingest.metric_frames import metric_rows
from engine.ingest.service import IngestResult, IngestService
from engine.services.models import ModelService
from engine.store.unit import UnitOfWork

MAX_COLLECTED_ERRORS = 1000


@dataclass(frozen=True, slots=True)
class LoadRequest:
    kind: Kind
    path: Path
    model: str | None
    version: str | None
    partial: bool
    batch_size: int
    segment_columns: tuple[str, ...]
    max_batch_rows: int
    progress: bool | None  # None: when stderr is a terminal


@dataclass(slots=True)
class Totals:
    received: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)

    def add(self, result: IngestResult, offset: int) -> None:
        self.received += result.received
        self.written += result.written
        self.duplicates += result.duplicates
        self.rejected += result.rejected
        self.error_count += result.error_count
        self.errors.extend(shift(result.errors, offset))
        self.warnings.extend(w for w in result.warnings if w not in self.warnings)


def shift(errors: Sequence[RowError], offset: int) -> list[RowError]:
    """Batch-relative row numbers → file row numbers."""
    return [replace(e, row=e.row + offset) if e.row is not None else e for e in errors]


async def _send(svc: IngestService, req: LoadRequest, batch: pl.DataFrame) -> IngestResult:
    segments = list(req.segment_columns)
    if req.kind == "predictions":
        assert req.model is not None
        return await svc.log_predictions(req.model, batch, version=req.version, partial=req.partial,
                                         segment_columns=segments)
    if req.kind == "labels":
        assert req.model is not None
        return await svc.log_labels(req.model, batch, partial=req.partial)
    return await svc.log_metrics(metric_rows(batch, segments), model_name=req.model, partial=req.partial)


async def _batches(svc: IngestService, req: LoadRequest, frame: pl.DataFrame, progress: Progress) -> Totals:
    """Send the frame batch by batch. In atomic mode a refused batch does not stop the run at once: the
    remaining batches are still checked (their writes roll back with the file's transaction) so the report
    covers the whole file, up to MAX_COLLECTED_ERRORS errors. Batch-level errors (a bad column) stop at once."""
    totals = Totals()
    refused: list[RowError] = []
    for offset in range(0, frame.height, req.batch_size):
        batch = frame.slice(offset, req.batch_size)
        try:
            result = await _send(svc, req, batch)
        except ValidationError as exc:
            refused.extend(shift(exc.errors, offset))
            if req.partial or any(e.row is None for e in exc.errors) or len(refused) >= MAX_COLLECTED_ERRORS:
                break
        else:
            totals.add(result, offset)
        progress.update(batch.height)
    if refused:
        raise ValidationError(refused)
    return totals


async def load_file(uow: UnitOfWork, req: LoadRequest) -> Totals:
    model: ModelSpec | None = await ModelService(uow).get_model(req.model) if req.model else None
    frame = read_frame(req.path, req.kind, model, req.segment_columns)
    missing = [c for c in req.segment_columns if c not in frame.columns]
    if missing:
        raise ValidationError([RowError(None, c, "segment column not in the file") for c in missing])
    if frame.height == 0:
        raise ValidationError([RowError(None, "file", f"{req.path} has no rows")])
    progress = Progress(frame.height, f"{req.kind} {req.path.name}", enabled=req.progress)
    svc = IngestService(uow, req.max_batch_rows)
    try:
        if req.partial:
            return await _batches(svc, req, frame, progress)
        # one transaction for the whole file: the service's own transactions become savepoints in it
        async with uow.transaction():
            return await _batches(svc, req, frame, progress)
    finally:
        progress.close()
