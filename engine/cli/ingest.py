"""`driftline ingest predictions|labels|metrics FILE`: a Parquet or CSV file through the engine's ingest
service, straight to the database (no HTTP), in batches, with a progress line on a terminal.

Atomic by default for the whole file: all batches run in one transaction, so a bad row anywhere refuses the
file and nothing is written (exit 2, `row N, field: reason` lines, the first 20 and a count; N is the 0-based
data row in the file). `--partial` commits batch by batch, stores the good rows and keeps the bad ones, with
their reasons, in `rejected_rows`.

Columns: predictions `prediction_id, time, prediction, score, latency_ms, label`, one column per feature,
and the columns named by --segment-columns; labels `prediction_id, label[, label_time, time]`; metrics
`name, value, time[, tags]`. CSV timestamps must carry a UTC offset (`…Z` or `…+01:00`): a predictions CSV
with a naive timestamp is refused as a whole before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.output import row_errors
from engine.errors import ValidationError

if TYPE_CHECKING:
    from engine.cli.loader import Totals

DEFAULT_BATCH_ROWS = 50_000


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


def _check_args(args: argparse.Namespace, max_batch_rows: int) -> None:
    if args.kind in ("predictions", "labels") and not args.model:
        raise UsageError(f"ingest {args.kind}: --model is required")
    if not 1 <= args.batch_size <= max_batch_rows:
        raise UsageError(f"ingest: --batch-size must be within 1..{max_batch_rows} (DRIFTLINE_MAX_BATCH_ROWS)")
    if not args.file.is_file():
        raise UsageError(f"ingest: {args.file} is not a file")


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    _check_args(args, ctx.settings.max_batch_rows)
    from engine.cli.loader import LoadRequest, load_file  # polars and the ingest stack load only when needed

    req = LoadRequest(
        kind=args.kind, path=args.file, model=args.model, version=args.version, partial=args.partial,
        batch_size=args.batch_size, segment_columns=tuple(s for s in args.segment_columns.split(",") if s),
        max_batch_rows=ctx.settings.max_batch_rows, progress=args.progress,
    )
    try:
        totals = run_in_unit(ctx.settings, lambda uow: load_file(uow, req))
    except ValidationError as exc:
        where = "nothing written" if not args.partial else "the batches before the refused one were stored"
        n = len(exc.errors)
        sys.stderr.write(f"driftline: {args.file}: invalid input ({n} error{'s' if n != 1 else ''}; {where})\n")
        row_errors(exc.errors)
        return 2
    _report(args.kind, totals)
    return 0


def _report(kind: str, totals: Totals) -> None:
    verb = "labelled" if kind == "labels" else "written"
    line = f"{kind}: {totals.received:,} received, {totals.written:,} {verb}"
    if kind == "predictions":
        line += f", {totals.duplicates:,} duplicates skipped"
    if totals.rejected:
        line += f", {totals.rejected:,} rejected (kept in rejected_rows)"
    print(line)
    if totals.errors:
        row_errors(totals.errors, totals.error_count)
    for w in totals.warnings:
        sys.stderr.write(f"driftline: warning: {w.field}: {w.reason}\n")
