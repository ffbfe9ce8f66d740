"""Data and independent references for the read-endpoint matrix (`test_read_matrix.py`): one model per
(task, variant), the rows it is sent through the REST API, and every expected value computed from those rows
with numpy / scikit-learn, never from the database or the engine's own code."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn import metrics as skm

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
SPAN = timedelta(hours=3)
TASKS = ("binary", "multiclass", "regression")
VARIANTS: dict[str, frozenset[str]] = {
    "bare": frozenset(),
    "latency": frozenset({"latency"}),
    "labels": frozenset({"labels"}),
    "features": frozenset({"features"}),
    "segments": frozenset({"segments"}),
    "full": frozenset({"latency", "labels", "features", "segments"}),
}
CLASSES = {"binary": ["no", "yes"], "multiclass": ["a", "b", "c"]}
THRESHOLD = 0.4
EDGES = [-1.0, 0.0, 1.0]  # baseline of feature x: bins (-inf, -1), [-1, 0), [0, 1), [1, inf)
LOWER, UPPER = -2.0, 2.0
CATEGORIES = ["red", "green", "blue"]  # baseline of feature c; "mauve" is out of range
REGIONS = ["eu", "us"]
ENVS = ["prod", "dev"]
WIDTH = {"1m": timedelta(minutes=1), "5m": timedelta(minutes=5), "15m": timedelta(minutes=15),
         "1h": timedelta(hours=1), "6h": timedelta(hours=6), "1d": timedelta(days=1), "1w": timedelta(weeks=1)}
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # time_bucket's origin (a Monday): weeks start on Mondays, UTC
EPS = 2.220446049250313e-16  # log loss clips probabilities to [eps, 1 - eps]
ROWS_PER_MODEL = 90


@dataclass
class Row:
    """One prediction as sent, with the label sent for it later (if any)."""

    pid: str
    time: datetime
    version: str
    score: float | None = None  # binary
    probabilities: list[float] | None = None  # multiclass
    value: float | None = None  # regression prediction
    latency_ms: float | None = None
    region: str | None = None
    x: float | None = None
    c: str | None = None
    label: str | float | None = None
    label_time: datetime | None = None


@dataclass
class Case:
    task: str
    variant: str
    rows: list[Row]
    metrics: list[tuple[datetime, float, str]] = field(default_factory=list)  # custom metric: time, value, env

    @property
    def name(self) -> str:
        return f"{self.task}-{self.variant}"

    def has(self, flag: str) -> bool:
        return flag in VARIANTS[self.variant]

    @property
    def classes(self) -> list[str] | None:
        return CLASSES.get(self.task)

    @property
    def dimensions(self) -> list[str]:
        return ["region"] if self.has("segments") else []

    def model_body(self) -> dict[str, Any]:
        features = [{"name": "x", "kind": "numeric"}, {"name": "c", "kind": "categorical"}]
        return {"name": self.name, "task": self.task, "class_labels": self.classes, "threshold": THRESHOLD,
                "dimensions": self.dimensions, "features": features if self.has("features") else []}

    def predicted(self, r: Row) -> str:
        """The class the documented ingest rules derive: score >= threshold (binary), arg-max (multiclass)."""
        assert self.classes is not None
        if self.task == "binary":
            assert r.score is not None
            return self.classes[int(r.score >= THRESHOLD)]
        assert r.probabilities is not None
        return self.classes[int(np.argmax(r.probabilities))]


def prediction_json(r: Row) -> dict[str, Any]:
    out: dict[str, Any] = {"prediction_id": r.pid, "time": r.time.isoformat()}
    for key in ("score", "probabilities", "latency_ms"):
        if getattr(r, key) is not None:
            out[key] = getattr(r, key)
    if r.value is not None:
        out["prediction"] = r.value
    if r.region is not None:
        out["segments"] = {"region": r.region}
    if r.x is not None or r.c is not None:
        out["features"] = {"x": r.x, "c": r.c}
    return out


def make_case(task: str, variant: str, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    flags = VARIANTS[variant]
    rows = []
    for i in range(ROWS_PER_MODEL):
        t = T0 + timedelta(milliseconds=int(rng.integers(0, SPAN // timedelta(milliseconds=1))))
        r = Row(f"{task}-{variant}-{i}", t, "v1" if i < ROWS_PER_MODEL * 0.6 else "v2")
        if task == "binary":
            r.score = float(rng.random())
            truth: str | float = "yes" if rng.random() < r.score else "no"
        elif task == "multiclass":
            r.probabilities = rng.dirichlet([1.0, 1.0, 1.0]).tolist()
            truth = CLASSES[task][int(rng.choice(3, p=r.probabilities))]
        else:
            r.value = float(rng.normal(100, 20))
            truth = r.value + float(rng.normal(0, 10))
        if "latency" in flags and rng.random() < 0.9:
            r.latency_ms = float(rng.lognormal(3.0, 0.8))
        if "labels" in flags and rng.random() < 0.75:
            r.label, r.label_time = truth, t + timedelta(seconds=int(rng.integers(30, 7200)))
        if "features" in flags:
            r.x = float(rng.normal(0, 1.2)) if rng.random() > 0.1 else None
            r.c = str(rng.choice([*CATEGORIES, "mauve"])) if rng.random() > 0.05 else None
        if "segments" in flags:
            r.region = str(rng.choice(REGIONS))
        rows.append(r)
    metrics = [
        (T0 + timedelta(seconds=int(rng.integers(0, SPAN // timedelta(seconds=1)))), float(rng.normal(5, 2)),
         str(rng.choice(ENVS)))
        for _ in range(40)
    ]
    return Case(task, variant, rows, metrics)


CASES = [make_case(t, v, seed) for seed, (t, v) in enumerate(product(TASKS, VARIANTS), start=1)]


def floor(t: datetime, level: str) -> datetime:
    """The bucket of `t` at a granularity (counted from time_bucket's origin, UTC)."""
    return ORIGIN + ((t - ORIGIN) // WIDTH[level]) * WIDTH[level]


@dataclass
class Expected:
    exact: dict[str, float | None]  # equal to the served value (None: null or absent)
    bounded: dict[str, float | None]  # within the served error bound of the served value
    recall_per_class: dict[str, float]  # classes present among the labels
    sample_sizes: dict[str, int] = field(default_factory=dict)  # by basis
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # scipy's Wilson 95 %
    confusion: list[list[int]] | None = None  # actual × predicted, in class order
    predicted: dict[str, int] | None = None


def expected_metrics(
    case: Case,
    level: str,
    key: Callable[[Row], str | None] = lambda r: None,
    start: datetime = T0,
    end: datetime = T0 + SPAN,
    keep: Callable[[Row], bool] = lambda r: True,
) -> dict[tuple[datetime, str | None], Expected]:
    """Per (bucket, group) over the rows of exactly [start, end) that `keep` keeps; a bucket's seconds (for
    throughput) are those of [start, end) inside it."""
    groups: dict[tuple[datetime, str | None], list[Row]] = defaultdict(list)
    for r in case.rows:
        if start <= r.time < end and keep(r):
            groups[(floor(r.time, level), key(r))].append(r)

    def seconds(b: datetime) -> float:
        return (min(b + WIDTH[level], end) - max(b, start)).total_seconds()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn on tiny groups
        return {k: _expected(case, rows, seconds(k[0])) for k, rows in groups.items()}


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _expected(case: Case, rows: list[Row], seconds: float) -> Expected:
    labeled = [r for r in rows if r.label is not None]
    delays = [(r.label_time - r.time).total_seconds() for r in labeled if r.label_time is not None]
    lat = np.array([r.latency_ms for r in rows if r.latency_ms is not None])
    exact: dict[str, float | None] = {
        "count": float(len(rows)),
        "throughput_per_s": len(rows) / seconds,
        "label_coverage": len(labeled) / len(rows),
        "label_delay_mean_s": _mean(delays),
        "label_delay_max_s": max(delays) if delays else None,
        "score_mean": _mean([r.score for r in rows if r.score is not None]),
        "prediction_mean": _mean([r.value for r in rows if r.value is not None]),
        "latency_mean_ms": float(lat.mean()) if lat.size else None,
        "latency_max_ms": float(lat.max()) if lat.size else None,
    }
    bounded: dict[str, float | None] = {
        f"latency_p{q}_ms": float(np.quantile(lat, q / 100)) if lat.size else None for q in (50, 95, 99)
    }
    per_class: dict[str, float] = {}
    sizes = {"rows": len(rows)}
    if lat.size:
        sizes["latency"] = int(lat.size)
    intervals = {"label_coverage": _wilson(len(labeled), len(rows))}
    if case.task == "regression":
        y = np.array([float(r.label) for r in labeled])  # type: ignore[arg-type]
        yh = np.array([r.value for r in labeled], dtype=float)
        mse = skm.mean_squared_error(y, yh) if labeled else None
        exact |= {"mse": mse, "rmse": float(np.sqrt(mse)) if mse is not None else None,
                  "mae": skm.mean_absolute_error(y, yh) if labeled else None,
                  # one labelled row: the engine's constant-truth convention (sklearn's force_finite: 1 if
                  # exact, else 0), which sklearn applies from two rows on
                  "r2": skm.r2_score(np.repeat(y, 2), np.repeat(yh, 2)) if labeled else None,
                  "bias": float(np.mean(yh - y)) if labeled else None}
        sizes["labelled"] = len(labeled)
        return Expected(exact, bounded, per_class, sizes, intervals)
    assert case.classes is not None
    truth = [str(r.label) for r in labeled]
    pred = [case.predicted(r) for r in labeled]
    exact["accuracy"] = skm.accuracy_score(truth, pred) if labeled else None
    if case.task == "binary":
        y = np.array([t == "yes" for t in truth], dtype=float)
        s = np.array([r.score for r in labeled], dtype=float)
        p_true = np.where(y == 1, s, 1 - s)
        exact["brier"] = skm.brier_score_loss(y, s) if labeled else None
        bounded["roc_auc"] = skm.roc_auc_score(y, s) if len(set(truth)) == 2 else None
    else:
        probs = np.array([r.probabilities for r in labeled], dtype=float).reshape(len(labeled), 3)
        onehot = np.array([[t == k for k in case.classes] for t in truth], dtype=float).reshape(len(labeled), 3)
        p_true = (probs * onehot).sum(axis=1)
        exact["brier"] = float(((probs - onehot) ** 2).sum(axis=1).mean()) if labeled else None
    exact["log_loss"] = float(np.mean(-np.log(np.clip(p_true, EPS, 1 - EPS)))) if labeled else None
    if labeled:
        present = sorted(set(truth))
        recalls = skm.recall_score(truth, pred, labels=present, average=None, zero_division=0)
        per_class = dict(zip(present, map(float, recalls), strict=True))
        intervals["accuracy"] = _wilson(sum(t == q for t, q in zip(truth, pred, strict=True)), len(labeled))
    sizes["labelled"] = len(labeled)
    confusion = skm.confusion_matrix(truth, pred, labels=case.classes).tolist() if labeled else None
    predicted = {c: sum(case.predicted(r) == c for r in rows) for c in case.classes}
    return Expected(exact, bounded, per_class, sizes, intervals, confusion, predicted)


def _wilson(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def expected_features(
    case: Case, level: str, start: datetime = T0, end: datetime = T0 + SPAN
) -> dict[tuple[datetime, str], dict[str, Any]]:
    """Per (bucket, feature): rows, missing, out of range and counts per baseline bin."""
    buckets: dict[datetime, list[Row]] = defaultdict(list)
    for r in case.rows:
        if start <= r.time < end:
            buckets[floor(r.time, level)].append(r)
    out: dict[tuple[datetime, str], dict[str, Any]] = {}
    for b, rows in buckets.items():
        x = np.array([r.x for r in rows if r.x is not None])
        bins = np.bincount(np.searchsorted(EDGES, x, side="right"), minlength=len(EDGES) + 1)
        out[(b, "x")] = {"n": len(rows), "missing": len(rows) - x.size,
                         "out_of_range": int(((x < LOWER) | (x > UPPER)).sum()), "counts": bins.tolist()}
        c = [r.c for r in rows if r.c is not None]
        out[(b, "c")] = {"n": len(rows), "missing": len(rows) - len(c),
                         "out_of_range": sum(v not in CATEGORIES for v in c),
                         "counts": [c.count(k) for k in CATEGORIES]}
    return out


def expected_custom(
    case: Case, level: str, by_env: bool, start: datetime = T0, end: datetime = T0 + SPAN
) -> dict[tuple[datetime, str | None], dict[str, float]]:
    groups: dict[tuple[datetime, str | None], list[float]] = defaultdict(list)
    for t, v, env in case.metrics:
        if start <= t < end:
            groups[(floor(t, level), env if by_env else None)].append(v)
    return {k: {"count": len(v), "mean": float(np.mean(v)), "std": float(np.std(v)), "min": min(v),
                "max": max(v), "sum": float(np.sum(v))} for k, v in groups.items()}
