"""The vectorised derivation (`derive_batch`, used by the REST read) equals the per-bucket reference `derive` on
random merged window state: same keys, values within 1e-12, same error bounds, same per-class values;
and the batch latency quantiles equal `log_histogram_quantiles` per histogram. Pure: no database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from engine.domain import ModelSpec
from engine.windows.catalog import metric_names
from engine.windows.derive_batch import derive_batch
from engine.windows.merge import Merged
from engine.windows.percentiles import log_histogram_quantiles, log_histogram_quantiles_batch
from engine.windows.spec import LATENCY_BINS, LATENCY_LOG10_HI, LATENCY_LOG10_LO, PREDICTIONS, SCORE_BINS
from tests.windows.reference_derive import derive, merged_dicts

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _model(id_: int, name: str, task: str, class_labels: tuple[str, ...] | None) -> ModelSpec:
    return ModelSpec(
        id=id_, name=name, task=task, class_labels=class_labels, threshold=0.5, dimensions=(),
        description="", created_at=T0, features=(),
    )


def _counts_len(col: str, k: int) -> int:
    return {
        "class_counts": k + 2,
        "confusion": k * k + 2,
        "score_hist_pos": SCORE_BINS + 2,
        "score_hist_neg": SCORE_BINS + 2,
        "latency_hist": LATENCY_BINS + 2,
    }[col]


def random_merged(rng: np.random.Generator, size: int, k: int) -> Merged:
    """Merged state with empty buckets, buckets without labels / latency / scores, sparse histograms."""
    empty = rng.random(size) < 0.15
    columns: dict[str, Any] = {}
    present: dict[str, np.ndarray] = {}
    lat_min = 10 ** rng.uniform(-2.5, 1, size)
    lat_max = lat_min * 10 ** rng.uniform(0, 5, size)
    for col, how in PREDICTIONS.state:
        has = ~empty & (rng.random(size) < 0.8)
        if how == "counts":
            length = _counts_len(col, k)
            mat = rng.integers(0, 5, (size, length)) * (rng.random((size, length)) < rng.random((size, 1)))
            if col == "latency_hist":
                mat[:, 0] = 0
                mat[rng.random(size) < 0.1, 0] = 2  # underflow
                mat[:, -1] = rng.integers(0, 2, size)  # overflow
            mat[~has] = 0
            columns[col], present[col] = mat.astype(np.int64), has
        elif how == "count":
            columns[col], present[col] = np.where(has, rng.integers(0, 400, size), 0), has
        elif how == "sum":
            columns[col], present[col] = np.where(has, rng.normal(10, 20, size).__abs__(), 0.0), has
        else:
            base = (
                lat_min
                if col == "latency_min"
                else lat_max
                if col == "latency_max"
                else rng.uniform(1, 9, size)
            )
            columns[col], present[col] = np.where(has, base, np.nan), has
    # keep the state self-consistent where derive relies on it
    hist_n = columns["latency_hist"].sum(axis=1)
    columns["latency_n"] = hist_n
    hl = hist_n > 0
    columns["latency_min"] = np.where(hl, lat_min, np.nan)
    columns["latency_max"] = np.where(hl, lat_max, np.nan)
    present["latency_hist"] = present["latency_hist"] | hl
    columns["n"] = np.maximum(columns["n"], 0)
    columns["reg_n"] = np.where(rng.random(size) < 0.9, columns["reg_n"], 0)
    columns["ape_n"] = np.minimum(columns["ape_n"], columns["reg_n"])
    columns["ape_n"][rng.random(size) < 0.1] = 0
    for c in ("loss_n", "reg_n", "score_n", "label_delay_n", "pred_value_n", "latency_n", "n_labeled"):
        present[c] = np.ones(size, bool)
    buckets = [T0 + timedelta(hours=i) for i in range(size)]
    return Merged(buckets, [None] * size, columns, present)


def _subset(m: Merged, cols: set[str]) -> Merged:
    return Merged(
        m.buckets,
        m.groups,
        {c: v for c, v in m.columns.items() if c in cols},
        {c: v for c, v in m.present.items() if c in cols},
    )


def _assert_equal(a: dict[str, Any], b: dict[str, Any], what: str) -> None:
    assert list(a) == list(b), f"{what}: keys {list(a)} != {list(b)}"
    for key, want in b.items():
        got = a[key]
        if isinstance(want, dict):
            _assert_equal(got, want, f"{what}.{key}")
        elif want is None or got is None:
            assert got is None and want is None, f"{what}.{key}: {got} != {want}"
        else:
            assert math.isfinite(got) and abs(got - want) <= 1e-12 * max(1.0, abs(want)), (
                f"{what}.{key}: {got} != {want}"
            )


MODELS = [
    _model(1, "bin", "binary", ("neg", "pos")),
    _model(2, "multi", "multiclass", ("a", "b", "c", "d")),
    _model(3, "reg", "regression", None),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.task)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_equals_per_bucket(model: ModelSpec, seed: int) -> None:
    from engine.windows.catalog import needed_columns

    rng = np.random.default_rng(seed)
    k = len(model.class_labels or ()) or 2
    merged = random_merged(rng, 150, k)
    names = list(metric_names(model.task))
    subsets = [set(names), {"count"}, set(rng.choice(names, 5, replace=False).tolist())]
    for wanted in subsets:
        cols = needed_columns(wanted)
        part = _subset(merged, cols)
        fam = PREDICTIONS.subset(cols)
        batch = derive_batch(model, part, 3600.0, wanted)
        rows = merged_dicts(fam, part)
        assert len(batch) == len(rows)
        compared = 0
        for i, (d, row) in enumerate(zip(batch, rows, strict=True)):
            ref = derive(model, row, 3600.0, wanted)
            _assert_equal(d.values, ref.values, f"values[{i}]")
            _assert_equal(d.error_bounds, ref.error_bounds, f"bounds[{i}]")
            _assert_equal(d.per_class, ref.per_class, f"per_class[{i}]")
            compared += len(ref.values)
        assert compared >= len(rows)


@pytest.mark.parametrize("seed", [4, 5])
def test_latency_quantiles_batch_equal_per_histogram(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = 300
    counts = rng.integers(0, 3, (size, LATENCY_BINS + 2)) * (rng.random((size, LATENCY_BINS + 2)) < 0.05)
    counts[:5] = 0
    counts[5, 40] = 1  # a single value
    vmin = 10 ** rng.uniform(-3, 1, size)
    vmax = vmin * 10 ** rng.uniform(0, 5, size)
    qs = [0.0, 0.5, 0.95, 0.99, 1.0]
    values, bounds = log_histogram_quantiles_batch(
        counts, qs, log_lo=LATENCY_LOG10_LO, log_hi=LATENCY_LOG10_HI, vmin=vmin, vmax=vmax
    )
    for i in range(size):
        if counts[i].sum() == 0:
            assert np.isnan(values[:, i]).all()
            continue
        ref = log_histogram_quantiles(
            counts[i], qs, log_lo=LATENCY_LOG10_LO, log_hi=LATENCY_LOG10_HI, vmin=vmin[i], vmax=vmax[i]
        )
        for j, r in enumerate(ref):
            assert abs(values[j, i] - r.value) <= 1e-12 * max(1.0, r.value)
            assert abs(bounds[j, i] - r.error_bound) <= 1e-12 * max(1.0, r.value)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.task)
def test_no_latency_anywhere_in_the_read(model: ModelSpec) -> None:
    """When no row of a read carries a latency, the reader hands over a zero-width latency histogram
    (the trimmed slices are all NULL): the latency metrics are then undefined, as per bucket, not an error
    (the REST read answered 500 for every model logged without `latency_ms`)."""
    rng = np.random.default_rng(7)
    k = len(model.class_labels or ()) or 2
    merged = random_merged(rng, 40, k)
    size = len(merged)
    columns = dict(merged.columns)
    present = dict(merged.present)
    columns["latency_hist"] = np.zeros((size, 0), dtype=np.int64)
    columns["latency_n"] = np.zeros(size, dtype=np.int64)
    columns["latency_sum"] = np.zeros(size)
    columns["latency_min"] = columns["latency_max"] = np.full(size, np.nan)
    for c in ("latency_hist", "latency_sum", "latency_min", "latency_max"):
        present[c] = np.zeros(size, dtype=bool)
    merged = Merged(merged.buckets, merged.groups, columns, present)
    wanted = set(metric_names(model.task))
    batch = derive_batch(model, merged, 60.0, wanted)
    for i, (d, row) in enumerate(zip(batch, merged_dicts(PREDICTIONS, merged), strict=True)):
        ref = derive(model, row, 60.0, wanted)
        _assert_equal(d.values, ref.values, f"values[{i}]")
        _assert_equal(d.error_bounds, ref.error_bounds, f"bounds[{i}]")
        assert d.values["latency_mean_ms"] is None and d.values["latency_max_ms"] is None
        assert d.values.get("latency_p50_ms") is None and "latency_p50_ms" not in d.error_bounds


@pytest.mark.parametrize("model", MODELS[:2], ids=lambda m: m.task)
@pytest.mark.parametrize("shape", ["null", "zero-width"])
def test_no_labels_anywhere_in_the_read(model: ModelSpec, shape: str) -> None:
    """A classifier whose read holds no label at all: the reader hands over its confusion and score
    histograms NULL in every row (a list of None) or as arrays of no elements; the label metrics are then
    undefined, as per bucket, not an error (the REST read answered 500 for every unlabelled classifier)."""
    rng = np.random.default_rng(8)
    k = len(model.class_labels or ())
    merged = random_merged(rng, 40, k)
    size = len(merged)
    columns = dict(merged.columns)
    present = dict(merged.present)
    for c in ("confusion", "score_hist_pos", "score_hist_neg"):
        columns[c] = [None] * size if shape == "null" else np.zeros((size, 0), dtype=np.int64)
    for c in ("n_labeled", "label_delay_n", "loss_n"):
        columns[c] = np.zeros(size, dtype=np.int64)
    for c in ("label_delay_sum", "log_loss_sum", "brier_sum"):
        columns[c] = np.zeros(size)
    columns["label_delay_max"] = np.full(size, np.nan)
    for c in ("confusion", "score_hist_pos", "score_hist_neg", "label_delay_sum", "label_delay_max",
              "log_loss_sum", "brier_sum"):
        present[c] = np.zeros(size, dtype=bool)
    merged = Merged(merged.buckets, merged.groups, columns, present)
    wanted = set(metric_names(model.task))
    batch = derive_batch(model, merged, 60.0, wanted)
    for i, (d, row) in enumerate(zip(batch, merged_dicts(PREDICTIONS, merged), strict=True)):
        ref = derive(model, row, 60.0, wanted)
        _assert_equal(d.values, ref.values, f"values[{i}]")
        _assert_equal(d.error_bounds, ref.error_bounds, f"bounds[{i}]")
        _assert_equal(d.per_class, ref.per_class, f"per_class[{i}]")
        assert d.values.get("accuracy") is None and d.values.get("log_loss") is None
