"""Derived metrics for every merged (bucket, group) at once (pure: no I/O).

The one derivation path of window metrics. Each metric is evaluated once over all buckets with array
operations (`engine.algorithms.performance.batch`, `percentiles.log_histogram_quantiles_batch`). The tests
hold an independent per-bucket reference (`tests/windows/reference_derive.py`, through the per-window metric
objects) and check the two equal element by element on random merged state: same keys in the same order,
None where the reference has None, a key absent where it leaves it out, the same error bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.algorithms.performance.batch import ClassificationBatch, evaluate_classification_batch
from engine.algorithms.performance.batch_regression import RegressionSumsBatch, evaluate_regression_batch
from engine.algorithms.stats.proportions import DEFAULT_CONFIDENCE, wilson_interval
from engine.domain import ModelSpec
from engine.windows.catalog import (
    CLASSIFICATION,
    LOSSES,
    PER_CLASS,
    REGRESSION,
    SAMPLE_BASIS,
    SCORE_HISTOGRAM_METRICS,
    Derived,
)
from engine.windows.merge import Merged
from engine.windows.percentiles import log_histogram_quantiles_batch
from engine.windows.spec import LATENCY_LOG10_HI, LATENCY_LOG10_LO, PREDICTIONS, SCORE_BINS

F64 = NDArray[np.float64]
Column = tuple[str, list[Any], list[bool] | None]  # name, per-element value, per-element "key present"
# name, per class (label) the per-element values, per-element "key present"
ClassColumn = tuple[str, dict[str, list[Any]], list[bool]]


@dataclass(frozen=True, slots=True)
class DerivedColumns:
    """The derived metrics of `size` (bucket, group) elements, column by column: `values`, `error_bounds`,
    `intervals` ((lo, hi) or None per element), `sample_sizes` (by basis); `per_class` and
    `per_class_intervals` class by class. An element where a column's "present" flag is False has no
    value for it (`Derived` leaves the key out)."""

    size: int
    values: list[Column]
    error_bounds: list[Column]
    per_class: list[ClassColumn]
    intervals: list[Column]
    per_class_intervals: list[ClassColumn]
    sample_sizes: list[Column]


def _json(arr: NDArray[Any]) -> list[float | None]:
    """floats with NaN / ±inf as None (NaN and infinities are not JSON)."""
    a = np.asarray(arr, dtype=np.float64)
    fin = np.isfinite(a)
    if fin.all():
        return a.tolist()
    return [v if ok else None for v, ok in zip(a.tolist(), fin.tolist(), strict=True)]


def _ratio(num: NDArray[Any], den: NDArray[Any]) -> list[float | None]:
    """num / den where den is non-zero, else None (as `x / n if n else None`)."""
    den_f = den.astype(np.float64)
    ok = den != 0
    values = (num / np.where(ok, den_f, 1.0)).tolist()
    if ok.all():
        return values
    return [v if o else None for v, o in zip(values, ok.tolist(), strict=True)]


def _counts(values: Any, size: int, width: int = 0) -> NDArray[np.int64]:
    """A count column as a (size, ≥ width) matrix. The prediction windows' arrays have one layout per model
    (fixed bins, the model's classes), so a shorter array is the same layout with fewer trailing elements,
    zeros: that covers arrays that came in different lengths (a list, absent ones None) and an array no row
    of the read held (no label or no score anywhere: a matrix with no columns)."""
    if isinstance(values, np.ndarray):
        if values.shape[1] >= width:
            return values
        rows: Sequence[NDArray[np.int64] | None] = list(values)
    else:
        rows = values
    out = np.zeros((size, max(width, max((len(a) for a in rows if a is not None), default=0))), dtype=np.int64)
    for i, a in enumerate(rows):
        if a is not None:
            out[i, : len(a)] = a
    return out


def _intervals(k: NDArray[Any], n: NDArray[Any], confidence: float) -> list[tuple[float, float] | None]:
    lower, upper = wilson_interval(k, n, confidence)
    out: list[tuple[float, float] | None] = list(zip(lower.tolist(), upper.tolist(), strict=True))
    ok = np.asarray(n) > 0
    if not ok.all():
        for i in np.flatnonzero(~ok).tolist():
            out[i] = None
    return out


def derive_batch(
    model: ModelSpec,
    m: Merged,
    bucket_seconds: float | NDArray[np.float64],
    wanted: set[str],
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[Derived]:
    """The metrics in `wanted` for every (bucket, group) of `m` (prediction window state of `model`),
    covering `bucket_seconds` each (one width, or one per element where edge buckets are partial); with
    the sample size behind each metric (`SAMPLE_BASIS`) and Wilson intervals at `confidence` for the
    proportions. One `Derived` per element: `derive_columns` assembled."""
    return assemble(derive_columns(model, m, bucket_seconds, wanted, confidence))


def derive_columns(
    model: ModelSpec,
    m: Merged,
    bucket_seconds: float | NDArray[np.float64],
    wanted: set[str],
    confidence: float = DEFAULT_CONFIDENCE,
) -> DerivedColumns:
    """What `derive_batch` derives, as columns (what a columnar answer serves without per-element dicts)."""
    size = len(m)
    if size == 0:
        return DerivedColumns(0, [], [], [], [], [], [])
    cols = dict(m.columns)
    for c, how in PREDICTIONS.state:
        if how == "counts" and c in cols and not isinstance(cols[c], np.ndarray):
            cols[c] = _counts(cols[c], size)

    def col(name: str, fill: float = 0.0) -> NDArray[Any]:
        return cols[name] if name in cols else np.full(size, fill)

    out: list[Column] = []
    bounds: list[Column] = []
    intervals: list[Column] = []
    n = col("n").astype(np.int64)
    general: dict[str, Callable[[], list[Any]]] = {
        "count": lambda: n.tolist(),
        "throughput_per_s": lambda: (n / bucket_seconds).tolist(),
        "label_coverage": lambda: _ratio(col("n_labeled"), n),
        "label_delay_mean_s": lambda: _ratio(col("label_delay_sum"), col("label_delay_n")),
        "label_delay_max_s": lambda: _json(col("label_delay_max", np.nan)),
        "score_mean": lambda: _ratio(col("score_sum"), col("score_n")),
        "prediction_mean": lambda: _ratio(col("pred_value_sum"), col("pred_value_n")),
        "latency_mean_ms": lambda: _ratio(col("latency_sum"), col("latency_n")),
        "latency_max_ms": lambda: _json(col("latency_max", np.nan)),
    }
    for name, compute in general.items():
        if name in wanted:
            out.append((name, compute(), None))
    if "label_coverage" in wanted:
        # clipped: windows are consistent (n_labeled <= n), but an interval must not fail a read if not
        labelled = np.minimum(col("n_labeled"), n)
        intervals.append(("label_coverage", _intervals(labelled, n, confidence), (n > 0).tolist()))
    quantiles = [q for q in ("p50", "p95", "p99") if f"latency_{q}_ms" in wanted]
    ln = col("latency_n")
    # As `derive` (`if ln and quantiles`): no quantile where no latency was logged. When none was logged
    # anywhere in the read, the reader's trimmed histogram has no elements at all: not a histogram.
    if quantiles and ln.any():
        has = (ln != 0).tolist()
        values, errs = log_histogram_quantiles_batch(
            cols["latency_hist"],
            [int(q[1:]) / 100 for q in quantiles],
            log_lo=LATENCY_LOG10_LO,
            log_hi=LATENCY_LOG10_HI,
            vmin=col("latency_min", np.nan),
            vmax=col("latency_max", np.nan),
        )
        for i, q in enumerate(quantiles):
            out.append((f"latency_{q}_ms", values[i].tolist(), has))
            bounds.append((f"latency_{q}_ms", errs[i].tolist(), has))
    per_class: list[ClassColumn] = []
    pc_intervals: list[ClassColumn] = []
    bases: dict[str, NDArray[Any]] = {"rows": n}
    if model.task == "regression":
        _regression(cols, col, wanted, out)
        bases["labelled"] = col("reg_n")
    else:
        sink = _Sink(out, bounds, per_class, intervals, pc_intervals, bases, confidence)
        _classification(model, m, cols, col, wanted, sink)
    for basis, k in (("label_delay", "label_delay_n"), ("latency", "latency_n"), ("scored", "score_n")):
        if k in cols:
            bases[basis] = cols[k]
    used = {SAMPLE_BASIS[w] for w in wanted if w in SAMPLE_BASIS}
    sizes: list[Column] = [
        (b, np.asarray(bases[b]).astype(np.int64).tolist(), None) for b in sorted(used) if b in bases
    ]
    return DerivedColumns(size, out, bounds, per_class, intervals, pc_intervals, sizes)


@dataclass(frozen=True, slots=True)
class _Sink:
    """Where `_classification` puts its columns."""

    out: list[Column]
    bounds: list[Column]
    per_class: list[ClassColumn]
    intervals: list[Column]
    pc_intervals: list[ClassColumn]
    bases: dict[str, NDArray[Any]]
    confidence: float


def _regression(
    cols: dict[str, Any], col: Callable[..., NDArray[Any]], wanted: set[str], out: list[Column]
) -> None:
    names = [r for r in REGRESSION if r in wanted]
    if not names:
        return
    reg_n = col("reg_n")
    sums = RegressionSumsBatch(
        n=reg_n.astype(np.float64),
        sum_err=col("err_sum"),
        sum_abs_err=col("abs_err_sum"),
        sum_sq_err=col("sq_err_sum"),
        sum_ape=col("ape_sum"),
        n_ape=col("ape_n").astype(np.float64),
        sum_sape=col("sape_sum"),
        n_sape=reg_n.astype(np.float64),
        sum_y=col("y_sum"),
        sum_y2=col("y2_sum"),
    )
    has = (reg_n != 0).tolist()
    for name, bv in evaluate_regression_batch(names, sums).items():
        out.append((name, _json(bv.values), has))


def _classification(
    model: ModelSpec,
    m: Merged,
    cols: dict[str, Any],
    col: Callable[..., NDArray[Any]],
    wanted: set[str],
    sink: _Sink,
) -> None:
    """`cols`: `m.columns` with every count column as a matrix."""
    out, bounds, per_class = sink.out, sink.bounds, sink.per_class
    assert model.class_labels is not None
    labels = model.class_labels
    k = len(labels)
    size = len(m)
    confusion = None
    cc_ok = np.zeros(size, dtype=bool)
    cc_names = [c for c in CLASSIFICATION + PER_CLASS if c in wanted]
    if model.task == "binary":
        cc_names += [c for c in ("precision", "recall", "f1") if c in wanted]
    if cc_names:
        confusion = _counts(cols["confusion"], size, k * k + 2)[:, 1 : k * k + 1].reshape(size, k, k)
        cc_ok = m.present["confusion"] & (confusion.sum(axis=(1, 2)) > 0)
    pos = neg = None
    hist_names = [c for c in SCORE_HISTOGRAM_METRICS if c in wanted] if model.task == "binary" else []
    defined: dict[str, NDArray[np.bool_]] = {}
    if hist_names:
        pos, neg = _fold(cols.get("score_hist_pos"), size), _fold(cols.get("score_hist_neg"), size)
        n_pos, n_neg = pos.sum(axis=1), neg.sum(axis=1)
        # as `derive`: ROC AUC needs both classes, average precision a positive, ECE any row
        defined = {"roc_auc": (n_pos > 0) & (n_neg > 0), "average_precision": n_pos > 0, "ece": n_pos + n_neg > 0}
        sink.bases["labelled_scored"] = n_pos + n_neg
    loss_names = [c for c in LOSSES if c in wanted]
    loss_n = col("loss_n") if loss_names else None
    if loss_n is not None:
        sink.bases["labelled_loss"] = loss_n
    batch = ClassificationBatch(
        labels=labels,
        confusion=confusion,
        pos_hist=pos,
        neg_hist=neg,
        loss_n=loss_n,
        log_loss_sum=col("log_loss_sum") if loss_names else None,
        brier_sum=col("brier_sum") if loss_names else None,
        pos_label=labels[-1],
    )
    cc_has = cc_ok.tolist()
    if confusion is not None:
        _proportion_intervals(model, confusion, cc_names, cc_has, sink)
    for name, bv in evaluate_classification_batch(cc_names, batch).items():
        if name.endswith("_per_class"):
            assert bv.per_class is not None
            keys = [str(lab) for lab in labels]
            per_class.append((name, {c: _json(bv.per_class[:, j]) for j, c in enumerate(keys)}, cc_has))
        else:
            out.append((name, _json(bv.values), cc_has))
    for name, bv in evaluate_classification_batch(hist_names, batch).items():
        ok = defined[name]
        out.append((name, _json(bv.values), ok.tolist()))
        bounds.append((name, bv.error_bounds.tolist(), (ok & (bv.error_bounds != 0)).tolist()))
    if loss_n is not None:
        has = (loss_n != 0).tolist()
        for name, bv in evaluate_classification_batch(loss_names, batch).items():
            out.append((name, _json(bv.values), has))


def _proportion_intervals(
    model: ModelSpec, confusion: NDArray[np.int64], names: list[str], has: list[bool], sink: _Sink
) -> None:
    """Wilson intervals of the metrics that are one proportion of the labelled rows: accuracy, the binary
    precision / recall (positive class),
    and the per-class precision / recall (successes: the diagonal; trials: the predicted / actual counts)."""
    assert model.class_labels is not None
    total = confusion.sum(axis=(1, 2))
    sink.bases["labelled"] = total
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    predicted, actual = confusion.sum(axis=1), confusion.sum(axis=2)
    conf = sink.confidence
    # the micro averages equal accuracy for single-label classes: accuracy's interval is theirs (not repeated)
    if "accuracy" in names:
        sink.intervals.append(("accuracy", _intervals(tp.sum(axis=1), total, conf), has))
    if model.task == "binary":
        for name, den in (("precision", predicted[:, 1]), ("recall", actual[:, 1])):
            if name in names:
                sink.intervals.append((name, _intervals(tp[:, 1], den, conf), (den > 0).tolist()))
    keys = [str(lab) for lab in model.class_labels]
    for name, den in (("precision_per_class", predicted), ("recall_per_class", actual)):
        if name in names:
            sink.pc_intervals.append((name, {c: _intervals(tp[:, j], den[:, j], conf) for j, c in enumerate(keys)}, has))


def _fold(h: NDArray[np.int64] | None, size: int) -> NDArray[np.int64]:
    """(B, bins + 2) histogram() arrays → (B, bins): underflow into the first bin, overflow (a score of
    exactly 1.0) into the last (as histogram() puts it in its overflow element)."""
    if h is None:
        return np.zeros((size, SCORE_BINS), dtype=np.int64)
    h = _counts(h, size, SCORE_BINS + 2)
    body = h[:, 1 : SCORE_BINS + 1].copy()
    body[:, 0] += h[:, 0]
    body[:, -1] += h[:, SCORE_BINS + 1]
    return body


_EMPTY: dict[str, Any] = {}  # shared by every element with nothing in a part: the results are read-only


def _per_element(size: int, columns: Sequence[tuple[str, list[Any], list[bool] | None]]) -> list[dict[str, Any]]:
    """One dict per element holding the columns present there. Columns present everywhere (the usual case)
    are zipped into the dicts at C speed; the others are added element by element after them. Elements
    with nothing share one empty dict (a long read allocates millions of dicts otherwise; nothing mutates
    them)."""
    everywhere = [(name, v) for name, v, has in columns if has is None or all(has)]
    partial = [(name, v, has) for name, v, has in columns if has is not None and any(has) and not all(has)]
    if not everywhere and not partial:
        return [_EMPTY] * size
    if len(everywhere) == 1:
        [(name, values)] = everywhere
        dicts = [{name: x} for x in values]
    elif everywhere:
        names = [name for name, _ in everywhere]
        dicts = [dict(zip(names, row, strict=True)) for row in zip(*(v for _, v in everywhere), strict=True)]
    else:
        dicts = [{} for _ in range(size)]
    for name, v, has in partial:
        assert has is not None
        for d, x, h in zip(dicts, v, has, strict=True):
            if h:
                d[name] = x
    return dicts


def _class_dicts(column: ClassColumn, skip_none: bool) -> Column:
    """A class-wise column as one {class: value} dict per element (None values left out if `skip_none`)."""
    name, by_class, has = column
    keys = list(by_class)
    dicts = [dict(zip(keys, row, strict=True)) for row in zip(*by_class.values(), strict=True)]
    if skip_none:
        for k, values in by_class.items():
            if None in values:
                for d, v in zip(dicts, values, strict=True):
                    if v is None:
                        del d[k]
    return name, dicts, has


def interval_columns(d: DerivedColumns) -> list[Column]:
    """The interval columns of `d` with their "key present" masks: an interval is left out where its
    proportion has no trials (None in the column)."""
    return [
        (name, v, [x is not None for x in v] if h is None else [x is not None and y for x, y in zip(v, h, strict=True)])
        for name, v, h in d.intervals
    ]


def assemble_parts(d: DerivedColumns) -> tuple[list[dict[str, Any]], ...]:
    """Per element of `d`, its values, error bounds, per-class rates, intervals, per-class intervals and
    sample sizes (the fields of `Derived`), as six lists."""
    if d.size == 0:
        return ([],) * 6
    ivs = interval_columns(d)
    per_class = [_class_dicts(c, False) for c in d.per_class]
    pc_intervals = [_class_dicts(c, True) for c in d.per_class_intervals]
    return tuple(
        _per_element(d.size, c) for c in (d.values, d.error_bounds, per_class, ivs, pc_intervals, d.sample_sizes)
    )


def assemble(d: DerivedColumns) -> list[Derived]:
    """One `Derived` per element of `d`."""
    return [Derived(*row) for row in zip(*assemble_parts(d), strict=True)]
