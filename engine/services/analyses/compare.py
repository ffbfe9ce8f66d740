"""Comparison of two versions, or two values of a segment, over a window: each metric of each group with the
difference (b − a), its confidence interval and p-value (engine.algorithms.compare).

State: the prediction windows over exactly [start, end), grouped by version (or by the segment key), merged
over the buckets here. Classifiers: confusion matrices (rates: two-proportion z; F1 and macro averages:
bootstrap of the confusion matrices), binary score histograms of positives / negatives (ROC AUC: DeLong on
the 100 bins), predicted-class counts (binary positive rate). Regression: Σe, Σ|e|, Σe² (mean error and MAE:
Welch's t); MSE and RMSE: Welch's t on e² (RMSE: the same p-value, a delta-method interval), whose variance
needs Σe⁴, which the windows do not keep — it comes from one grouped aggregate over the window's raw rows
(`compare_repo.comparison_moments`: count, Σe², var_samp(e²) per group), the same rows the windows
hold (labelled rows with a prediction in [start, end) of each version / segment value). Mean latency (every
task): Welch's t from its count, mean and var_samp per group from the same scan (the windows keep its sum and a
log histogram, no second moment). The groups are disjoint sets of rows, so the tests are for independent samples.
Cost of that scan: 0.7–0.9 s per million rows in the window (measured on the shared 2-core dev machine, by
version and by segment); the window reads stay O(buckets).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import msgspec
import numpy as np

from engine.algorithms.compare import (
    Difference,
    auc_difference,
    bootstrap_confusion,
    f1_binary,
    f1_macro,
    moments,
    precision_macro,
    recall_macro,
    rmse_difference,
    two_proportions,
    welch,
)
from engine.domain import ModelSpec
from engine.errors import NotFoundError, RowError, ValidationError
from engine.services.analyses.window_state import window_level
from engine.store import compare_repo, models_repo, results_repo
from engine.store.compare_repo import EMPTY, GroupMoments
from engine.store.results_repo import ResultRow, RunKey
from engine.store.unit import Snapshot, UnitOfWork
from engine.store.window_reads import GroupBy, WindowRead, read_windows
from engine.windows.spec import PREDICTIONS, PREDICTIONS_BY_VERSION

ANALYSIS = "comparison"
STATE = {"n", "n_labeled", "class_counts", "confusion", "score_hist_pos", "score_hist_neg", "reg_n", "err_sum",
         "abs_err_sum", "sq_err_sum", "y_sum", "y2_sum", "latency_n"}


class MetricComparison(msgspec.Struct, frozen=True):
    metric: str
    a: float | None
    b: float | None
    difference: float | None  # b − a
    lower: float | None
    upper: float | None
    p_value: float | None
    significant: bool  # p < 1 − confidence
    test: str  # two_proportion_z | delong_z_binned | welch_t | welch_t_mse_delta | bootstrap_confusion
    n_a: int
    n_b: int
    note: str | None = None


class Comparison(msgspec.Struct, frozen=True):
    model: str
    task: str
    start: datetime
    end: datetime
    by: str  # "version" or "segment:<key>"
    a: str
    b: str
    n_a: int  # rows of each group in the window
    n_b: int
    n_labelled_a: int
    n_labelled_b: int
    confidence: float
    metrics: tuple[MetricComparison, ...]


class _Group:
    def __init__(self, width: dict[str, int]) -> None:
        self.width = width
        self.scalars: dict[str, float] = {}
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, name: str, value: Any) -> None:
        if name in self.width:
            arr = np.zeros(self.width[name])
            if value is not None and len(value):
                v = np.asarray(value, dtype=np.float64)[: self.width[name]]
                arr[: v.size] = v
            self.arrays[name] = self.arrays.get(name, np.zeros(self.width[name])) + arr
        else:
            self.scalars[name] = self.scalars.get(name, 0.0) + (float(value) if value is not None and math.isfinite(float(value)) else 0.0)


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError([RowError(None, field, message)])


class CompareService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def compare(
        self,
        model: str,
        start: datetime,
        end: datetime,
        *,
        versions: tuple[str, str] | None = None,
        segment: str | None = None,
        values: tuple[str, str] | None = None,
        confidence: float = 0.95,
        n_draws: int = 2000,
        seed: int = 0,
        persist: bool = False,
        run_key: str = "adhoc",
    ) -> Comparison:
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise _invalid("start/end", "timezone-aware, end after start")
        if not 0.5 <= confidence < 1.0:
            raise _invalid("confidence", "in [0.5, 1)")
        if not 100 <= n_draws <= 20_000:
            raise _invalid("n_draws", "100 to 20000")
        if not 0 <= seed < 2**63:
            raise _invalid("seed", "0 to 2^63 − 1")
        if (versions is None) == (segment is None):
            raise _invalid("versions/segment", "give versions=a,b or segment=<key>&values=a,b")
        pair = versions if versions is not None else values
        if pair is None or len(pair) != 2 or pair[0] == pair[1]:
            raise _invalid("versions" if versions is not None else "values", "two different values, comma-separated")
        async with self.uow.transaction() as conn:
            info = await models_repo.get_model(conn, model)
            if versions is not None:
                known = {v.version: str(v.id) for v in await models_repo.list_versions(conn, info.id)}
                for v in versions:
                    if v not in known:
                        raise NotFoundError(f"model {model!r} has no version {v!r}")
                keys = (known[versions[0]], known[versions[1]])
                group, family, by = GroupBy("version"), PREDICTIONS_BY_VERSION, "version"
            else:
                assert segment is not None
                if segment not in info.dimensions:
                    raise _invalid("segment", f"{segment!r} is not a declared dimension of {model}")
                keys = pair
                group, family, by = GroupBy("segment", segment), PREDICTIONS, f"segment:{segment}"
            state = await self._state(Snapshot(conn), info, family.subset(STATE), group, start, end, keys)
            a, b = state[keys[0]], state[keys[1]]
            # the raw-row scan (0.7-0.9 s per million rows) only where its moments are needed: labelled
            # regression rows (MSE / RMSE) or latencies, in either group
            needed = any(g.scalars.get("latency_n", 0) or (info.task == "regression" and g.scalars.get("reg_n", 0))
                         for g in (a, b))
            raw = await compare_repo.comparison_moments(conn, info.id, start, end, segment, keys) if needed else {}
            metrics = _compare(info, a, b, confidence, n_draws, seed, (raw.get(keys[0], EMPTY), raw.get(keys[1], EMPTY)))
            out = Comparison(model, info.task, start, end, by, pair[0], pair[1], int(a.scalars.get("n", 0)),
                             int(b.scalars.get("n", 0)), int(a.scalars.get("n_labeled", 0)),
                             int(b.scalars.get("n_labeled", 0)), confidence, metrics)
            if persist:
                await results_repo.replace_run(conn, RunKey(info.id, ANALYSIS, start, end, f"{run_key}:{by}:{pair[0]}|{pair[1]}"),
                                               _rows(out), None)
        return out

    async def _state(self, snap: Snapshot, info: ModelSpec, family: Any, group: GroupBy, start: datetime,
                     end: datetime, keys: tuple[str, str]) -> dict[str, _Group]:
        k = len(info.class_labels or ())
        width = {"class_counts": k + 2, "confusion": k * k + 2, "score_hist_pos": 102, "score_hist_neg": 102}
        read = WindowRead(family, window_level(start, end), info.id, start, end, group)
        [m] = await read_windows(snap, [read])
        out = {key: _Group(width) for key in keys}
        for i, g in enumerate(m.groups):
            if g not in out:
                continue
            for name in STATE:
                if name in m.columns:
                    out[g].add(name, m.columns[name][i])
        return out


def _hist(g: _Group, name: str) -> np.ndarray:
    h = g.arrays.get(name, np.zeros(102))
    inner = h[1:101].copy()
    inner[-1] += h[101]  # score 1.0 falls in the histogram's overflow bin: the last bin, as in the SQL views
    inner[0] += h[0]
    return inner


def _compare(info: ModelSpec, a: _Group, b: _Group, confidence: float, n_draws: int, seed: int,
             raw: tuple[GroupMoments, GroupMoments] = (EMPTY, EMPTY)) -> tuple[MetricComparison, ...]:
    out: list[tuple[str, Difference, int, int, str | None]] = []
    if info.is_classifier:
        k = len(info.class_labels or ())
        ca = a.arrays.get("confusion", np.zeros(k * k + 2))[1 : k * k + 1].reshape(k, k)
        cb = b.arrays.get("confusion", np.zeros(k * k + 2))[1 : k * k + 1].reshape(k, k)
        na, nb = int(ca.sum()), int(cb.sum())
        out.append(("accuracy", two_proportions(int(np.trace(ca)), na, int(np.trace(cb)), nb, confidence), na, nb, None))
        if info.task == "binary":
            pa, pb = int(ca[:, 1].sum()), int(cb[:, 1].sum())
            ta, tb = int(ca[1].sum()), int(cb[1].sum())
            out.append(("precision", two_proportions(int(ca[1, 1]), pa, int(cb[1, 1]), pb, confidence), pa, pb, None))
            out.append(("recall", two_proportions(int(ca[1, 1]), ta, int(cb[1, 1]), tb, confidence), ta, tb, None))
            out.append(("f1", bootstrap_confusion(ca, cb, f1_binary, confidence, n_draws, seed), na, nb, None))
            ha, hb = (_hist(a, "score_hist_pos"), _hist(a, "score_hist_neg")), (_hist(b, "score_hist_pos"), _hist(b, "score_hist_neg"))
            out.append(("roc_auc", auc_difference(*ha, *hb, confidence), int(ha[0].sum() + ha[1].sum()),
                        int(hb[0].sum() + hb[1].sum()), "on the windows' 100 score bins (ties within a bin)"))
            ka = a.arrays.get("class_counts", np.zeros(k + 2))[1 : k + 1]
            kb = b.arrays.get("class_counts", np.zeros(k + 2))[1 : k + 1]
            out.append(("positive_rate", two_proportions(int(ka[1]), int(ka.sum()), int(kb[1]), int(kb.sum()), confidence),
                        int(ka.sum()), int(kb.sum()), "predicted positive share of all rows (labelled or not)"))
        else:
            for name, fn in (("precision_macro", precision_macro), ("recall_macro", recall_macro), ("f1_macro", f1_macro)):
                out.append((name, bootstrap_confusion(ca, cb, fn, confidence, n_draws, seed), na, nb, None))
    else:
        na, nb = int(a.scalars.get("reg_n", 0)), int(b.scalars.get("reg_n", 0))
        mae = [moments(n, g.scalars.get("abs_err_sum", 0.0), g.scalars.get("sq_err_sum", 0.0)) for n, g in ((na, a), (nb, b))]
        out.append(("mae", welch(na, *mae[0], nb, *mae[1], confidence), na, nb, None))
        me = [moments(n, g.scalars.get("err_sum", 0.0), g.scalars.get("sq_err_sum", 0.0)) for n, g in ((na, a), (nb, b))]
        out.append(("mean_error", welch(na, *me[0], nb, *me[1], confidence), na, nb, "prediction − label"))
        sa, sb = raw
        mse = [(s.n, s.e2_sum / s.n if s.n else math.nan, s.e2_var if s.e2_var is not None else math.nan)
               for s in (sa, sb)]
        note = "Welch's t on the squared errors (Σe⁴ from the raw rows)"
        out.append(("mse", welch(*mse[0], *mse[1], confidence), sa.n, sb.n, note))
        out.append(("rmse", rmse_difference(*mse[0], *mse[1], confidence), sa.n, sb.n,
                    "p-value of the MSE test; delta-method interval"))
    lat = [(g.latency_n, g.latency_mean if g.latency_mean is not None else math.nan,
            g.latency_var if g.latency_var is not None else math.nan) for g in raw]
    out.append(("latency_mean_ms", welch(*lat[0], *lat[1], confidence), raw[0].latency_n, raw[1].latency_n,
                "rows with a latency, labelled or not"))
    alpha = 1 - confidence
    return tuple(
        MetricComparison(name, _f(d.a), _f(d.b), _f(d.difference), _f(d.lower), _f(d.upper), _f(d.p_value),
                         d.p_value is not None and d.p_value < alpha, d.test, n_a, n_b, note)
        for name, d, n_a, n_b, note in out
    )


def _f(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _rows(c: Comparison) -> list[ResultRow]:
    rows = []
    for m in c.metrics:
        rows.append(ResultRow(m.metric, "difference", m.difference, None,
                              (m.upper - m.lower) / 2 if m.upper is not None and m.lower is not None else None,
                              "warning" if m.significant else "ok" if m.difference is not None else "no_data",
                              m.n_a + m.n_b, {"by": c.by, "a": c.a, "b": c.b, "value_a": m.a, "value_b": m.b,
                                              "lower": m.lower, "upper": m.upper, "p_value": m.p_value,
                                              "test": m.test, "confidence": c.confidence}))
    return rows
