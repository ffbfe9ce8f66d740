"""`driftline analyze multivariate`: domain-classifier or PCA-reconstruction drift over [start, end) from
bounded raw samples (stored as analysis results unless --no-store)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime

import msgspec

from engine.algorithms.drift.mixed_rows import MultivariateParams
from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.output import emit_json, table
from engine.services.analyses.multivariate import DEFAULT_ROW_CAP, MultivariateDriftService


def parse_filter(text: str | None) -> dict[str, str] | None:
    """`region=eu,device=ios` → {"region": "eu", "device": "ios"}."""
    if not text:
        return None
    out = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--filter {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def register_actions(asub: argparse._SubParsersAction[argparse.ArgumentParser],
                     time: Callable[[str], datetime]) -> None:
    p = asub.add_parser("multivariate", help="multivariate drift (domain classifier or PCA) over [start, end)")
    p.add_argument("model")
    p.add_argument("--start", type=time, required=True)
    p.add_argument("--end", type=time, required=True)
    p.add_argument("--method", choices=("domain_classifier", "pca"), default="domain_classifier")
    p.add_argument("--reference-start", type=time, help="reference window (default: the active baseline's sample)")
    p.add_argument("--reference-end", type=time)
    p.add_argument("--version", help="only this version's rows")
    p.add_argument("--filter", help="segment filter, e.g. region=eu")
    p.add_argument("--row-cap", type=int, default=DEFAULT_ROW_CAP, help="rows sampled per side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threshold", type=float, help="fixed threshold instead of the calibrated one")
    p.add_argument("--no-store", action="store_true", help="do not persist the result")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=analyze_multivariate)


def _num(v: float | None, digits: int = 4) -> str:
    return "" if v is None else f"{v:.{digits}g}"


def analyze_multivariate(args: argparse.Namespace, ctx: CliContext) -> int:
    params = MultivariateParams(seed=args.seed, threshold=args.threshold)
    cap = ctx.settings.multivariate_row_cap
    report = run_in_unit(ctx.settings, lambda uow: MultivariateDriftService(uow, max_row_cap=cap).multivariate(
        args.model, args.start, args.end, method=args.method, reference_start=args.reference_start,
        reference_end=args.reference_end, version=args.version, filters=parse_filter(args.filter),
        row_cap=args.row_cap, params=params, persist=not args.no_store))
    if args.json:
        emit_json(msgspec.to_builtins(report))
        return 0
    scope = "".join([f" version {report.version}" if report.version else "",
                     f" filter {report.filters}" if report.filters else ""])
    print(f"{report.model}: {report.method} drift over [{report.start}, {report.end}){scope} against {report.reference}")
    ci = f"[{_num(report.ci_lower, 3)}, {_num(report.ci_upper, 3)}]" if report.ci_lower is not None else ""
    verdict = "DRIFT" if report.drift else "ok" if report.status == "ok" else report.status
    table([(report.method, _num(report.statistic), ci, _num(report.lower_threshold), _num(report.threshold), verdict,
            report.n_reference, report.n_current, report.n_current_rows)],
          ("METHOD", "STATISTIC", "95% CI", "LOWER", "THRESHOLD", "VERDICT", "N_REF", "N_CUR", "ROWS"), sys.stdout)
    if report.imputed_current:
        print("imputed in the window (" + report.imputation + "): "
              + ", ".join(f"{k} {v}" for k, v in report.imputed_current.items()))
    return 0
