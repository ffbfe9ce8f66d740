"""`driftline baselines list|show|create|activate|delete` and `driftline analyze drift|results` (and
quality|degradation|trend|anomalies, in `analyze_monitoring`; multivariate, in `analyze_multivariate`)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import polars as pl

from engine.cli import analyze_monitoring, analyze_multivariate, performance
from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.files import file_format
from engine.cli.output import emit_json, table
from engine.services.analyses.drift import DriftService
from engine.services.analyses.results import ResultsService
from engine.services.baselines.service import BaselineService


def _time(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r}: give a UTC offset, e.g. 2026-03-01T00:00:00+00:00")
    return t


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    baselines = sub.add_parser("baselines", help="create, list, show, activate or delete a model's baselines")
    bsub = baselines.add_subparsers(dest="action", required=True)
    p = bsub.add_parser("list", help="list a model's baselines")
    p.add_argument("model")
    p.set_defaults(handler=baselines_list)
    p = bsub.add_parser("show", help="one baseline with its bins (JSON)")
    p.add_argument("model")
    p.add_argument("name")
    p.set_defaults(handler=baselines_show)
    p = bsub.add_parser("create", help="a baseline from a stored range (--start/--end) or a Parquet/CSV file")
    p.add_argument("model")
    p.add_argument("name")
    p.add_argument("--start", type=_time)
    p.add_argument("--end", type=_time)
    p.add_argument("--version")
    p.add_argument("--file", "-f", type=Path, help="reference rows: one column per feature (+ time, score, label, …)")
    p.add_argument("--no-activate", action="store_true", help="keep the current active baseline")
    p.set_defaults(handler=baselines_create)
    p = bsub.add_parser("activate", help="make a baseline the active one (history is re-bucketed in the background)")
    p.add_argument("model")
    p.add_argument("name")
    p.set_defaults(handler=baselines_activate)
    p = bsub.add_parser("delete", help="delete a baseline")
    p.add_argument("model")
    p.add_argument("name")
    p.set_defaults(handler=baselines_delete)

    analyze = sub.add_parser("analyze", help="run analyses over stored windows")
    asub = analyze.add_subparsers(dest="action", required=True)
    p = asub.add_parser("drift", help="drift of every feature over [start, end) (stored as analysis results)")
    p.add_argument("model")
    p.add_argument("--start", type=_time, required=True)
    p.add_argument("--end", type=_time, required=True)
    p.add_argument("--reference-start", type=_time)
    p.add_argument("--reference-end", type=_time)
    p.add_argument("--sliding-hours", type=float, help="reference: this many hours right before the window")
    p.add_argument("--methods", help="comma-separated drift methods (default: auto)")
    p.add_argument("--rule", choices=("sustained", "classic"), default="sustained")
    p.add_argument("--calibrated", action="store_true", help="thresholds from leave-one-chunk-out reference chunks")
    p.add_argument("--exact", action="store_true", help="exact methods from a capped raw sample")
    p.add_argument("--row-cap", type=int, default=50_000)
    p.add_argument("--version", help="only this version's rows (binned from raw rows)")
    p.add_argument("--filter", help="only rows with these segment values, e.g. region=eu (binned from raw rows)")
    p.add_argument("--no-store", action="store_true", help="do not persist the results")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=analyze_drift)
    p = asub.add_parser("results", help="stored analysis results of windows overlapping [start, end)")
    p.add_argument("model")
    p.add_argument("--start", type=_time, required=True)
    p.add_argument("--end", type=_time, required=True)
    p.add_argument("--analysis")
    p.set_defaults(handler=analyze_results)
    analyze_monitoring.register_actions(asub, _time)
    analyze_multivariate.register_actions(asub, _time)
    performance.register(asub)


def baselines_list(args: argparse.Namespace, ctx: CliContext) -> int:
    rows = run_in_unit(ctx.settings, lambda uow: BaselineService(uow).list(args.model))
    table([(b.name, "yes" if b.active else "", b.source, b.version or "", b.range_start or "", b.range_end or "",
            b.n_rows, b.chunking) for b in rows],
          ("NAME", "ACTIVE", "SOURCE", "VERSION", "START", "END", "ROWS", "CHUNKING"), sys.stdout)
    return 0


def baselines_show(args: argparse.Namespace, ctx: CliContext) -> int:
    detail = run_in_unit(ctx.settings, lambda uow: BaselineService(uow).get(args.model, args.name))
    emit_json(msgspec.to_builtins(detail))
    return 0


def baselines_create(args: argparse.Namespace, ctx: CliContext) -> int:
    activate = not args.no_activate
    if args.file is not None:
        if args.start or args.end:
            raise UsageError("give --file or --start/--end, not both")
        frame = pl.read_parquet(args.file) if file_format(args.file) == "parquet" else pl.read_csv(args.file)
        detail = run_in_unit(ctx.settings, lambda uow: BaselineService(uow).create_from_frame(
            args.model, args.name, frame, activate))
    else:
        if args.start is None or args.end is None:
            raise UsageError("give --start and --end (a stored reference range), or --file")
        detail = run_in_unit(ctx.settings, lambda uow: BaselineService(uow).create_from_range(
            args.model, args.name, args.start, args.end, args.version, activate))
    print(f"baseline {detail.info.name}: {detail.info.n_rows} rows, {len(detail.features)} features, "
          f"{'active' if detail.info.active else 'inactive'}")
    return 0


def baselines_activate(args: argparse.Namespace, ctx: CliContext) -> int:
    run_in_unit(ctx.settings, lambda uow: BaselineService(uow).activate(args.model, args.name))
    print(f"baseline {args.name} is active; feature windows are re-bucketed in the background")
    return 0


def baselines_delete(args: argparse.Namespace, ctx: CliContext) -> int:
    run_in_unit(ctx.settings, lambda uow: BaselineService(uow).delete(args.model, args.name))
    return 0


def _num(v: float | None, digits: int = 4) -> str:
    return "" if v is None else f"{v:.{digits}g}"


def analyze_drift(args: argparse.Namespace, ctx: CliContext) -> int:
    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else None
    report = run_in_unit(ctx.settings, lambda uow: DriftService(uow).drift(
        args.model, args.start, args.end, reference_start=args.reference_start, reference_end=args.reference_end,
        sliding=timedelta(hours=args.sliding_hours) if args.sliding_hours else None, methods=methods,
        rule=args.rule, threshold_mode="calibrated" if args.calibrated else "fixed", exact=args.exact,
        row_cap=args.row_cap, persist=not args.no_store, version=args.version,
        filters=analyze_multivariate.parse_filter(args.filter)))
    if args.json:
        emit_json(msgspec.to_builtins(report))
        return 0
    scope = "".join([f" version {report.version}" if report.version else "",
                     f" filter {report.filters}" if report.filters else ""])
    print(f"{report.model}: drift over [{report.start}, {report.end}){scope} against {report.reference}, "
          f"rule {report.rule} (from {report.source.replace('_', ' ')})")
    table([(r.feature, r.method, _num(r.statistic), "±" + _num(r.bound, 2) if r.bound else "", _num(r.p_value, 3),
            _num(r.p_value_adjusted, 3), _num(r.threshold, 3), "DRIFT" if r.drift else "ok", r.n_current)
           for r in report.features],
          ("FEATURE", "METHOD", "STATISTIC", "BOUND", "P", "P_BH", "THRESHOLD", "VERDICT", "N"), sys.stdout)
    print(f"dataset: {report.n_drifted}/{len(report.features)} drifted "
          f"({'DRIFT' if report.dataset_drift else 'no dataset drift'}, share ≥ {report.drift_share})")
    return 0


def analyze_results(args: argparse.Namespace, ctx: CliContext) -> int:
    res = run_in_unit(ctx.settings, lambda uow: ResultsService(uow).results(args.model, args.start, args.end, args.analysis))
    table([(r.window_start, r.window_end, r.analysis, r.subject, r.statistic, _num(r.value), r.status)
           for r in res.results], ("START", "END", "ANALYSIS", "SUBJECT", "STATISTIC", "VALUE", "STATUS"), sys.stdout)
    return 0
