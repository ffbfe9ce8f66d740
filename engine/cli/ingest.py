"""`driftline ingest predictions|labels|metrics FILE`: a Parquet or CSV file through the engine's ingest
service, straight to the database (no HTTP), in batches.

Atomic by default for the whole file: all batches run in one transaction, so a bad row anywhere refuses the
file and nothing is written (exit 2, `row N, field: reason` lines; N is the 0-based data row in the file).
`--partial` commits batch by batch, stores the good rows and keeps the bad ones in `rejected_rows`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import asyncpg
import polars as pl

from engine.cli.context import CliContext, UsageError, run_with_pool
from engine.cli.files import Kind, metric_rows, read_frame
from engine.cli.output import row_errors
from engine.cli.progress import Progress
from engine.domain import ModelSpec
from engine.errors import RowError, ValidationError
from engine.ingest.service import IngestResult, IngestService
from engine.services.models import ModelService

DEFAULT_BATCH_ROWS = 50_000
MAX_COLLECTED_ERRORS = 1000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ingest", help="load predictions, labels or metrics from a Parquet or CSV file",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=("predictions", "labels", "metrics"))
    p.add_argument("file", type=Path)
    p.add_argument("--model", "-m", help="model name (required for predictions and labels)")
    p.add_argument("--version", help="model version (predictions; default: the production version)")
    p.add_argument("--partial", action="store_true", help="store the valid rows, keep the bad ones in rejected_rows")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_ROWS, help=f"rows per batch ({DEFAULT_BATCH_ROWS})")
    p.add_argument("--segment-columns", default="", help="comma-separated columns holding segment tags "
                   "(metrics: columns added to the tags)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress line (default: when stderr is a terminal)")
    p.set_defaults(handler=run)


@dataclass(slots=True)
class Totals:
    received: int = 0
    written: int = 0
    duplicates: int = 0
    rejected: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)

    def add(self, result: IngestResult, offset: int) -> None:
        self.received += result.received
        self.written += result.written
        self.duplicates += result.duplicates
        self.rejected += result.rejected
        self.error_count += result.error_count
        self.errors.extend(shift(result.errors, offset))


def shift(errors: Sequence[RowError], offset: int) -> list[RowError]:
    """Batch-relative row numbers → file row numbers."""
    return [replace(e, row=e.row + offset) if e.row is not None else e for e in errors]


class _OneConnection:
    """Pool stand-in handing out one connection, so every batch runs inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn


async def _send(svc: IngestService, kind: Kind, batch: pl.DataFrame, args: argparse.Namespace,
                segments: list[str]) -> IngestResult:
    if kind == "predictions":
        return await svc.log_predictions(args.model, batch, version=args.version, partial=args.partial,
                                         segment_columns=segments)
    if kind == "labels":
        return await svc.log_labels(args.model, batch, partial=args.partial)
    return await svc.log_metrics(metric_rows(batch, segments), model_name=args.model, partial=args.partial)


async def _batches(svc: IngestService, kind: Kind, frame: pl.DataFrame, args: argparse.Namespace,
                   segments: list[str], progress: Progress) -> Totals:
    """Send the frame batch by batch. A refused batch does not stop the run at once: the remaining batches
    are still checked (their writes roll back with the file's transaction) so the report covers the whole
    file, up to MAX_COLLECTED_ERRORS errors. Batch-level errors (a bad column) stop at once."""
    totals = Totals()
    refused: list[RowError] = []
    for offset in range(0, frame.height, args.batch_size):
        batch = frame.slice(offset, args.batch_size)
        try:
            result = await _send(svc, kind, batch, args, segments)
        except ValidationError as exc:
            refused.extend(shift(exc.errors, offset))
            if args.partial or any(e.row is None for e in exc.errors) or len(refused) >= MAX_COLLECTED_ERRORS:
                break
        else:
            totals.add(result, offset)
        progress.update(batch.height)
    if refused:
        raise ValidationError(refused)
    return totals


async def ingest_frame(pool: asyncpg.Pool, kind: Kind, frame: pl.DataFrame, args: argparse.Namespace,
                       max_batch_rows: int, progress: Progress) -> Totals:
    segments = [s for s in args.segment_columns.split(",") if s]
    if args.partial:
        return await _batches(IngestService(pool, max_batch_rows), kind, frame, args, segments, progress)
    async with pool.acquire() as conn, conn.transaction():
        svc = IngestService(cast(asyncpg.Pool, _OneConnection(conn)), max_batch_rows)
        return await _batches(svc, kind, frame, args, segments, progress)


def _check_args(args: argparse.Namespace, max_batch_rows: int) -> None:
    if args.kind in ("predictions", "labels") and not args.model:
        raise UsageError(f"ingest {args.kind}: --model is required")
    if not 1 <= args.batch_size <= max_batch_rows:
        raise UsageError(f"ingest: --batch-size must be within 1..{max_batch_rows} (DRIFTLINE_MAX_BATCH_ROWS)")
    if not args.file.is_file():
        raise UsageError(f"ingest: {args.file} is not a file")


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    _check_args(args, ctx.settings.max_batch_rows)
    kind: Kind = args.kind
    segments = [s for s in args.segment_columns.split(",") if s]

    async def work(pool: asyncpg.Pool) -> Totals:
        model: ModelSpec | None = await ModelService(pool).get_model(args.model) if args.model else None
        frame = read_frame(args.file, kind, model, segments)
        missing = [c for c in segments if c not in frame.columns]
        if missing:
            raise ValidationError([RowError(None, c, "segment column not in the file") for c in missing])
        if frame.height == 0:
            raise ValidationError([RowError(None, "file", f"{args.file} has no rows")])
        progress = Progress(frame.height, f"{kind} {args.file.name}", enabled=args.progress)
        try:
            return await ingest_frame(pool, kind, frame, args, ctx.settings.max_batch_rows, progress)
        finally:
            progress.close()

    try:
        totals = run_with_pool(ctx.settings, work)
    except ValidationError as exc:
        where = "nothing written" if not args.partial else "the batches before the refused one were stored"
        n = len(exc.errors)
        sys.stderr.write(f"driftline: {args.file}: invalid input ({n} error{'s' if n != 1 else ''}; {where})\n")
        row_errors(exc.errors)
        return 2
    _report(kind, totals)
    return 0


def _report(kind: Kind, totals: Totals) -> None:
    verb = "labelled" if kind == "labels" else "written"
    line = f"{kind}: {totals.received:,} received, {totals.written:,} {verb}"
    if kind == "predictions":
        line += f", {totals.duplicates:,} duplicates skipped"
    if totals.rejected:
        line += f", {totals.rejected:,} rejected (kept in rejected_rows)"
    print(line)
    if totals.errors:
        row_errors(totals.errors, totals.error_count)
