"""PCA reconstruction-error drift (NannyML's "data reconstruction" method).

Fitted on the reference: missing values are imputed with the reference column medians (a column
with no present value imputes 0), columns are standardised (``StandardScaler``; constant columns
keep scale 1), and a PCA keeps the fewest components explaining ``variance`` (95%) of the
reference variance, but never all of them (with every component kept the reconstruction is exact
and the method is blind; a single-column matrix keeps its one component, so its error is always 0). A row's reconstruction error is the Euclidean distance between its standardised
value and its projection back from the components; the statistic is the mean error over a window.
Changes in the correlation structure raise it even when every marginal distribution is unchanged.

Threshold: the reference is cut into ``n_chunks`` consecutive chunks (its history, in order) and
the band is ``mean ± (k·σ + 1e-9·(1 + |mean|))`` (k = 3) of the chunk mean errors, the small
absolute term absorbing floating-point round-off; drift means the current mean error
leaves the band. The band's width reflects the chunk size (``n_reference / n_chunks``), so windows
of a similar size are judged fairly; much larger windows are judged conservatively.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from engine.algorithms.drift.binning import FloatArray
from engine.algorithms.drift.method import DriftResult
from engine.algorithms.drift.multivariate import MULTIVARIATE_DRIFT_METHODS, as_matrix

# Floating-point round-off in the errors; keeps a perfectly stable reference from flagging noise.
_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True, eq=False)
class PCAReconstructionDrift:
    medians: FloatArray
    scaler: StandardScaler
    pca: PCA | None
    mean_error: float
    lower: float
    upper: float
    n_reference: int

    @classmethod
    def fit(
        cls, reference: ArrayLike, variance: float = 0.95, n_chunks: int = 10, k: float = 3.0
    ) -> PCAReconstructionDrift:
        if not 0 < variance <= 1:
            raise ValueError(f"variance must lie in (0, 1], got {variance}")
        if n_chunks < 2:
            raise ValueError(f"n_chunks must be at least 2, got {n_chunks}")
        ref = as_matrix(reference, "reference", min_rows=max(n_chunks, 2))
        with np.errstate(all="ignore"):
            medians = np.nanmedian(np.where(np.isnan(ref).all(axis=0), 0.0, ref), axis=0)
        z = StandardScaler().fit(_impute(ref, medians))
        scaled = z.transform(_impute(ref, medians))
        pca: PCA | None = None
        if float(scaled.var(axis=0).sum()) > 0:
            pca = PCA(svd_solver="full").fit(scaled)
            kept = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), variance - 1e-12) + 1)
            # Keeping every component reconstructs exactly and sees nothing; leave one out at least.
            kept = max(1, min(kept, ref.shape[1] - 1)) if ref.shape[1] > 1 else 1
            pca = PCA(n_components=kept, svd_solver="full").fit(scaled)
        errors = _errors(scaled, pca)
        chunk_means = np.array([c.mean() for c in np.array_split(errors, n_chunks)])
        mean, std = float(chunk_means.mean()), float(chunk_means.std(ddof=1))
        half_width = k * std + _TOLERANCE * (1.0 + abs(mean))
        return cls(medians, z, pca, mean, mean - half_width, mean + half_width, ref.shape[0])

    def compute(self, current: ArrayLike) -> DriftResult:
        cur = as_matrix(current, "current", self.medians.size)
        error = float(_errors(self.scaler.transform(_impute(cur, self.medians)), self.pca).mean())
        details = {
            "reference_mean_error": self.mean_error,
            "lower_threshold": self.lower,
            "n_components": 0 if self.pca is None else int(self.pca.n_components_),
            "n_reference": self.n_reference,
            "n_current": int(cur.shape[0]),
            "rule": "statistic outside [lower_threshold, threshold]",
        }
        drift = error > self.upper or error < self.lower
        return DriftResult("pca_reconstruction", error, None, self.upper, drift, "distance", details)


def _impute(x: FloatArray, medians: FloatArray) -> FloatArray:
    nan = np.isnan(x)
    return np.where(nan, medians, x) if nan.any() else x


def _errors(scaled: FloatArray, pca: PCA | None) -> FloatArray:
    if pca is None:  # no variance at all: every row reconstructs to the (zero) mean
        return np.sqrt((scaled**2).sum(axis=1))
    restored = pca.inverse_transform(pca.transform(scaled))
    return np.sqrt(((scaled - restored) ** 2).sum(axis=1))


@MULTIVARIATE_DRIFT_METHODS.register("pca_reconstruction")
def pca_reconstruction(reference: ArrayLike, current: ArrayLike, seed: int = 0) -> DriftResult:
    """Fit on the reference (95% variance, 10 chunks, k = 3) and compare the current matrix."""
    return PCAReconstructionDrift.fit(reference).compute(current)
