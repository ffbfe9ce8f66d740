"""`driftline predictions delete --model M [--id ID …] [--ids-file FILE] [--start T] [--end T]`: delete stored
predictions by id and/or time range [start, end) through the engine, so that the windows follow on both
editions (the same path as `DELETE /api/v1/models/{name}/predictions` and SQL's `dl_delete_predictions`).

Ids without a range are found within the label horizon (DRIFTLINE_LABEL_HORIZON); for older predictions,
give the range too. Timestamps need a UTC offset (`2026-03-01T00:00:00Z`)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.output import emit_json
from engine.ingest.timeparse import parse_time
from engine.services.predictions import PredictionService


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    preds = sub.add_parser("predictions", help="delete stored predictions (the windows follow)")
    psub = preds.add_subparsers(dest="action", required=True)
    p = psub.add_parser("delete", help="delete by id and/or time range", description=__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", "-m", required=True, help="model name")
    p.add_argument("--id", action="append", dest="ids", default=None, help="a prediction id (repeatable)")
    p.add_argument("--ids-file", type=Path, help="a file with one prediction id per line")
    p.add_argument("--start", type=_timestamp, help="delete from this time (inclusive)")
    p.add_argument("--end", type=_timestamp, help="delete up to this time (exclusive)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=delete)


def _timestamp(text: str) -> datetime:
    t = parse_time(text)
    if isinstance(t, str):
        raise argparse.ArgumentTypeError(t)
    return t


def _ids(args: argparse.Namespace) -> list[str] | None:
    ids = list(args.ids or [])
    if args.ids_file is not None:
        if not args.ids_file.is_file():
            raise UsageError(f"predictions delete: {args.ids_file} is not a file")
        ids += [line.strip() for line in args.ids_file.read_text().splitlines() if line.strip()]
    elif args.ids is None:
        return None
    return ids


def delete(args: argparse.Namespace, ctx: CliContext) -> int:
    ids = _ids(args)
    if ids is None and args.start is None and args.end is None:
        raise UsageError("predictions delete: give --id/--ids-file, --start/--end, or both")
    service_limit = ctx.settings.max_batch_rows
    result = run_in_unit(
        ctx.settings,
        lambda uow: PredictionService(uow, max_ids=service_limit).delete(args.model, ids, args.start, args.end),
    )
    if args.json:
        emit_json(result.to_dict())
    else:
        print(f"predictions: {result.deleted:,} deleted from {args.model} (windows follow at the next refresh)")
    return 0
