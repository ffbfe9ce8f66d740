"""The bounded reference sample a baseline keeps for multivariate drift (table `baseline_samples`).

At most `SAMPLE_ROWS` reference rows, drawn uniformly without replacement by `numpy.random.default_rng(SEED)`
and kept in reference order (time order for a stored range); all rows when there are fewer. Built from the
same `ReferenceData` as the bins, so a baseline from uploaded data keeps one too (it has no raw rows in
`predictions`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from engine.domain import ModelSpec
from engine.services.baselines.content import ReferenceData

SAMPLE_ROWS = 20_000
SEED = 0


def sample_indices(n_rows: int, cap: int = SAMPLE_ROWS, seed: int = SEED) -> NDArray[np.int64]:
    """Which reference rows are kept, in reference order."""
    if n_rows <= cap:
        return np.arange(n_rows, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n_rows, cap, replace=False)).astype(np.int64)


def reference_sample(
    model: ModelSpec, data: ReferenceData, cap: int = SAMPLE_ROWS, seed: int = SEED
) -> tuple[NDArray[np.float64], list[list[str | None]]]:
    """(numeric matrix by feature position, categorical rows by position) of the sampled reference rows; a
    feature absent from the reference data is missing in every row."""
    idx = sample_indices(data.n_rows, cap, seed)
    numeric, categorical = model.numeric_features, model.categorical_features
    num = np.full((idx.size, len(numeric)), np.nan)
    for f in numeric:
        col = data.numeric.get(f.name)
        if col is not None:
            num[:, f.position - 1] = np.asarray(col, dtype=np.float64)[idx]
    cat: list[list[str | None]] = [[None] * len(categorical) for _ in range(idx.size)]
    for f in categorical:
        values = data.categorical.get(f.name)
        if values is not None:
            for row, i in zip(cat, idx.tolist(), strict=True):
                row[f.position - 1] = values[i]
    return num, cat
