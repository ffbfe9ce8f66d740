"""`driftline analyze quality|degradation|trend|anomalies`: the analyses of a window or a metric series,
printed as tables (or JSON with --json); quality and degradation are stored unless --no-store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime

import msgspec

from engine.cli.context import CliContext, run_in_unit
from engine.cli.output import emit_json, table
from engine.services.analyses.anomalies import AnomalyService
from engine.services.analyses.degradation import MIN_SAMPLES, DegradationService
from engine.services.analyses.quality import QualityService
from engine.services.analyses.trend import TrendService


def _num(v: float | None, digits: int = 4) -> str:
    return "" if v is None else f"{v:.{digits}g}"


def register_actions(asub: argparse._SubParsersAction[argparse.ArgumentParser], time: Callable[[str], datetime]) -> None:
    def window(p: argparse.ArgumentParser) -> None:
        p.add_argument("model")
        p.add_argument("--start", type=time, required=True)
        p.add_argument("--end", type=time, required=True)
        p.add_argument("--json", action="store_true", help="print JSON")

    p = asub.add_parser("quality", help="missing / out-of-range rates, unseen categories, rejected rows, freshness")
    window(p)
    p.add_argument("--max-missing-rate", type=float, default=0.05)
    p.add_argument("--max-out-of-range-rate", type=float, default=0.05)
    p.add_argument("--max-staleness-s", type=float)
    p.add_argument("--no-store", action="store_true", help="do not persist the results")
    p.set_defaults(handler=analyze_quality)
    p = asub.add_parser("degradation", help="the window's metrics against the baseline's (severity, retrain flag)")
    window(p)
    p.add_argument("--baseline", help="default: the active baseline")
    p.add_argument("--min-samples", type=int, default=MIN_SAMPLES)
    p.add_argument("--no-store", action="store_true", help="do not persist the results")
    p.set_defaults(handler=analyze_degradation)
    for name, handler in (("trend", analyze_trend), ("anomalies", analyze_anomalies)):
        p = asub.add_parser(name, help=f"{name} of a model metric (or --custom metric) series")
        window(p)
        p.add_argument("--metric", required=True)
        p.add_argument("--custom", action="store_true", help="a custom metric (bucket means)")
        p.add_argument("--granularity", default="auto")
        if name == "trend":
            p.add_argument("--lower-is-better", action="store_true", help="for a custom metric")
        else:
            p.add_argument("--method", default="mad")
            p.add_argument("--fit", choices=("reference", "whole"), default="reference")
            p.add_argument("--reference-end", type=time)
            p.add_argument("--threshold", type=float)
        p.set_defaults(handler=handler)


def analyze_quality(args: argparse.Namespace, ctx: CliContext) -> int:
    r = run_in_unit(ctx.settings, lambda uow: QualityService(uow).quality(
        args.model, args.start, args.end, max_missing_rate=args.max_missing_rate,
        max_out_of_range_rate=args.max_out_of_range_rate, max_staleness_s=args.max_staleness_s,
        persist=not args.no_store))
    if args.json:
        emit_json(msgspec.to_builtins(r))
        return 0
    print(f"{r.model}: data quality over [{r.start}, {r.end}), {r.n} predictions, {r.n_issues} issue(s)")
    table([(f.feature, f.kind, f.n, _num(f.missing_rate), _num(f.out_of_range_rate),
            ", ".join(f"{u.value}×{u.count}" for u in f.unseen_top[:3]), f.status) for f in r.features],
          ("FEATURE", "KIND", "N", "MISSING", "OUT_OF_RANGE", "UNSEEN", "STATUS"), sys.stdout)
    if r.features_note:
        print(r.features_note)
    fr = r.freshness
    print(f"rejected rows: {r.n_rejected}; last prediction: {fr.last_prediction or 'none'}"
          f" ({_num(fr.seconds_since_last_prediction)} s before the end{', STALE' if fr.stale else ''});"
          f" label delay mean {_num(fr.label_delay_mean_s)} s, max {_num(fr.label_delay_max_s)} s")
    return 0


def analyze_degradation(args: argparse.Namespace, ctx: CliContext) -> int:
    r = run_in_unit(ctx.settings, lambda uow: DegradationService(uow).degradation(
        args.model, args.start, args.end, baseline=args.baseline, min_samples=args.min_samples,
        persist=not args.no_store))
    if args.json:
        emit_json(msgspec.to_builtins(r))
        return 0
    print(f"{r.model}: performance over [{r.start}, {r.end}) against baseline {r.baseline}")
    table([(c.metric, _num(c.baseline), _num(c.current),
            f"[{_num(c.interval[0], 3)}, {_num(c.interval[1], 3)}]" if c.interval else "", c.n_current,
            _num(c.relative_degradation, 3), _num(c.threshold, 3), c.severity, c.status) for c in r.metrics],
          ("METRIC", "BASELINE", "CURRENT", "CI", "N", "DEGRADATION", "THRESHOLD", "SEVERITY", "STATUS"), sys.stdout)
    print(f"severity: {r.severity}; retrain: {'YES' if r.retrain else 'no'} (at {r.retrain_threshold:.0%})")
    return 0


def analyze_trend(args: argparse.Namespace, ctx: CliContext) -> int:
    r = run_in_unit(ctx.settings, lambda uow: TrendService(uow).trend(
        args.model, args.metric, args.start, args.end, granularity=args.granularity, custom=args.custom,
        higher_is_better_override=False if args.lower_is_better else None))
    if args.json:
        emit_json(msgspec.to_builtins(r))
        return 0
    print(f"{r.model}: trend of {r.metric} per {r.granularity} over [{r.start}, {r.end}): {r.direction}")
    table([(t.method, t.n, _num(t.slope_per_day), f"[{_num(t.ci_low, 3)}, {_num(t.ci_high, 3)}]", _num(t.p_value, 3),
            t.direction) for t in r.tests], ("METHOD", "N", "SLOPE/DAY", "CI", "P", "DIRECTION"), sys.stdout)
    return 0


def analyze_anomalies(args: argparse.Namespace, ctx: CliContext) -> int:
    r = run_in_unit(ctx.settings, lambda uow: AnomalyService(uow).anomalies(
        args.model, args.metric, args.start, args.end, method=args.method, granularity=args.granularity,
        custom=args.custom, fit=args.fit, reference_end=args.reference_end, threshold=args.threshold))
    if args.json:
        emit_json(msgspec.to_builtins(r))
        return 0
    print(f"{r.model}: {r.method} on {r.metric} per {r.granularity}: {r.n_anomalies} of {r.n_scored} scored"
          f" (reference {r.n_reference})")
    table([(p.bucket, _num(p.value), _num(p.score, 3), _num(p.lower), _num(p.upper),
            "CHANGE" if p.change_point else "ANOMALY") for p in r.points if p.anomaly or p.change_point],
          ("BUCKET", "VALUE", "SCORE", "LOWER", "UPPER", "KIND"), sys.stdout)
    return 0
