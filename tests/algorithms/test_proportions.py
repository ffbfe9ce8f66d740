"""Wilson intervals: equal to scipy's (`binomtest(...).proportion_ci(method="wilson")`), and their coverage
checked by simulation through the window derivation: over seeded repetitions with a random true rate and a
random sample size, the 95 % interval the windows serve contains the truth 93–97 % of the time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from scipy.stats import binomtest

from engine.algorithms.stats.proportions import wilson_interval
from engine.domain import ModelSpec
from engine.windows.derive_batch import derive_batch
from engine.windows.merge import Merged

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _model(task: str, labels: tuple[str, ...]) -> ModelSpec:
    return ModelSpec(id=1, name="m", task=task, class_labels=labels, threshold=0.5, dimensions=(), description="",  # type: ignore[arg-type]
                     created_at=T0, features=())


def test_equals_scipy_wilson() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(1, 400, 300)
    k = (rng.random(300) * (n + 1)).astype(int).clip(max=n)
    k[:5], n[:5] = [0, 1, 7, 7, 3], [1, 1, 7, 9, 3]
    for conf in (0.9, 0.95, 0.99):
        lo, hi = wilson_interval(k, n, conf)
        for i in range(len(n)):
            ci = binomtest(int(k[i]), int(n[i])).proportion_ci(confidence_level=conf, method="wilson")
            assert lo[i] == pytest.approx(ci.low, abs=1e-12) and hi[i] == pytest.approx(ci.high, abs=1e-12)
    lo, hi = wilson_interval([0, 2], [0, 5])
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and 0 < lo[1] < 0.4 < hi[1] < 1
    with pytest.raises(ValueError):
        wilson_interval([3], [2])


def _simulated(rng: np.random.Generator, reps: int, k: int) -> tuple[Merged, np.ndarray, np.ndarray, np.ndarray]:
    """`reps` windows of a k-class model: a random true accuracy p, per-class recall q (class 0), coverage c,
    and sample sizes of 20–500 labelled rows, drawn once each."""
    n = rng.integers(20, 500, reps)
    p = rng.uniform(0.05, 0.95, reps)
    c = rng.uniform(0.05, 0.95, reps)
    confusion = np.zeros((reps, k * k + 2), dtype=np.int64)
    for i in range(reps):
        truth = rng.integers(0, k, n[i])
        right = rng.random(n[i]) < p[i]
        pred = np.where(right, truth, (truth + rng.integers(1, k, n[i])) % k)
        np.add.at(confusion[i], 1 + truth * k + pred, 1)
    rows = rng.integers(500, 2000, reps)
    labelled = rng.binomial(rows, c)
    columns = {"n": rows, "n_labeled": labelled, "confusion": confusion}
    present = {name: np.ones(reps, dtype=bool) for name in columns}
    return Merged([T0] * reps, [None] * reps, columns, present), p, c, n


@pytest.mark.parametrize("k", [2, 3])
def test_interval_coverage_by_simulation(k: int) -> None:
    rng = np.random.default_rng(1234 + k)
    reps = 4000
    labels = tuple("abc"[:k])
    merged, p, c, n = _simulated(rng, reps, k)
    model = _model("binary" if k == 2 else "multiclass", labels)
    derived = derive_batch(model, merged, 3600.0, {"accuracy", "label_coverage", "recall_per_class", "count"})
    acc = np.array([d.intervals["accuracy"] for d in derived])
    cov = np.array([d.intervals["label_coverage"] for d in derived])
    hit_acc = np.mean((acc[:, 0] <= p) & (p <= acc[:, 1]))
    hit_cov = np.mean((cov[:, 0] <= c) & (c <= cov[:, 1]))
    assert 0.93 <= hit_acc <= 0.97, hit_acc
    assert 0.93 <= hit_cov <= 0.97, hit_cov
    # the sample each rests on, and counts as integers
    assert [d.sample_sizes["labelled"] for d in derived] == n.tolist()
    assert all(isinstance(d.values["count"], int) for d in derived)
    # per-class recall of class "a": truth p (every class is predicted right with probability p)
    rec = np.array([d.per_class_intervals["recall_per_class"]["a"] for d in derived])
    hit_rec = np.mean((rec[:, 0] <= p) & (p <= rec[:, 1]))
    assert 0.93 <= hit_rec <= 0.97, hit_rec
