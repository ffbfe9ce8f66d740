"""`driftline analyze estimate` (label-free estimates beside the realised metrics)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

import msgspec

from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.output import emit_json, table
from engine.services.analyses.compare import CompareService
from engine.services.analyses.estimate import EstimateService


def _time(value: str) -> datetime:
    t = datetime.fromisoformat(value)
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r}: give a UTC offset, e.g. 2026-03-01T00:00:00+00:00")
    return t


def _pairs(csv: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (x.strip() for x in (csv or "").split(",") if x.strip()):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"{item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def _num(v: float | None, digits: int = 4) -> str:
    return "" if v is None else f"{v:.{digits}g}"


def register(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = asub.add_parser("estimate", help="label-free estimates (CBPE) over [start, end), realised beside them")
    p.add_argument("model")
    p.add_argument("--start", type=_time, required=True)
    p.add_argument("--end", type=_time, required=True)
    p.add_argument("--version")
    p.add_argument("--filter", help="segment: key=value pairs of declared dimensions")
    p.add_argument("--draws", type=int, default=200, help="Monte-Carlo draws of the band")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--no-store", action="store_true", help="do not persist the results")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=analyze_estimate)
    p = asub.add_parser("compare", help="two versions (--versions a,b) or segment values (--segment k --values a,b)")
    p.add_argument("model")
    p.add_argument("--start", type=_time, required=True)
    p.add_argument("--end", type=_time, required=True)
    p.add_argument("--versions")
    p.add_argument("--segment")
    p.add_argument("--values")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--store", action="store_true", help="persist the results")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=analyze_compare)


def analyze_estimate(args: argparse.Namespace, ctx: CliContext) -> int:
    rep = run_in_unit(ctx.settings, lambda uow: EstimateService(uow).estimate(
        args.model, args.start, args.end, version=args.version, segment=_pairs(args.filter), n_draws=args.draws,
        confidence=args.confidence, persist=not args.no_store))
    if args.json:
        emit_json(msgspec.to_builtins(rep))
        return 0
    print(f"{rep.model}: estimated over [{rep.start}, {rep.end}), {rep.n} rows ({rep.n_labelled} labelled), "
          f"decision {rep.decision}, calibrated on baseline {rep.baseline}")
    table([(m.metric, _num(m.estimated), f"[{_num(m.lower, 3)}, {_num(m.upper, 3)}]" if m.lower is not None else "",
            _num(m.realised), _num(m.reference), _num(m.threshold), m.status.upper() if m.degraded else m.status)
           for m in rep.metrics],
          ("METRIC", "ESTIMATED", "BAND", "REALISED", "REFERENCE", "LIMIT", "VERDICT"), sys.stdout)
    return 0


def _two(csv: str | None, flag: str) -> tuple[str, str] | None:
    if csv is None:
        return None
    items = [x.strip() for x in csv.split(",") if x.strip()]
    if len(items) != 2:
        raise UsageError(f"{flag}: two comma-separated values")
    return items[0], items[1]


def analyze_compare(args: argparse.Namespace, ctx: CliContext) -> int:
    rep = run_in_unit(ctx.settings, lambda uow: CompareService(uow).compare(
        args.model, args.start, args.end, versions=_two(args.versions, "--versions"), segment=args.segment,
        values=_two(args.values, "--values"), confidence=args.confidence, persist=args.store))
    if args.json:
        emit_json(msgspec.to_builtins(rep))
        return 0
    print(f"{rep.model}: {rep.by} {rep.a} ({rep.n_a} rows) vs {rep.b} ({rep.n_b} rows) over [{rep.start}, {rep.end})")
    table([(m.metric, _num(m.a), _num(m.b), _num(m.difference), f"[{_num(m.lower, 3)}, {_num(m.upper, 3)}]"
            if m.lower is not None else "", _num(m.p_value, 3), m.test, "SIGNIFICANT" if m.significant else "")
           for m in rep.metrics],
          ("METRIC", "A", "B", "B-A", "CI", "P", "TEST", "VERDICT"), sys.stdout)
    return 0
