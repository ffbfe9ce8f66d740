"""What the window relations hold: families, levels, key columns and how each state column merges.

The SQL in `sql/schema/0002_windows*.sql` defines the relations; this module is the engine's description of
them, used to compose merge queries (reads that combine levels, re-bucketing, grouping). A test checks the
two agree column by column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Merge = Literal["count", "sum", "min", "max", "counts", "sums"]
LevelName = Literal["1m", "1h", "1d"]

EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # time_bucket's default origin (a Monday); days align to UTC


@dataclass(frozen=True, slots=True)
class Level:
    name: LevelName
    width: timedelta
    sql_interval: str
    chunk_interval: str

    def floor(self, t: datetime) -> datetime:
        steps = (t - EPOCH) // self.width
        return EPOCH + steps * self.width

    def ceil(self, t: datetime) -> datetime:
        f = self.floor(t)
        return f if f == t else f + self.width


LEVELS: dict[LevelName, Level] = {
    "1m": Level("1m", timedelta(minutes=1), "1 minute", "7 days"),
    "1h": Level("1h", timedelta(hours=1), "1 hour", "90 days"),
    "1d": Level("1d", timedelta(days=1), "1 day", "1 year"),
}
LEVEL_ORDER: tuple[LevelName, ...] = ("1m", "1h", "1d")


@dataclass(frozen=True, slots=True)
class Granularity:
    """A bucket width a read may ask for: a stored level or a whole multiple of one (`base`), bucketed from
    the same origin as the levels (`EPOCH`), so that every bucket is a union of whole `base` buckets."""

    name: str
    width: timedelta
    sql_interval: str
    base: LevelName

    def floor(self, t: datetime) -> datetime:
        return EPOCH + ((t - EPOCH) // self.width) * self.width

    def ceil(self, t: datetime) -> datetime:
        f = self.floor(t)
        return f if f == t else f + self.width


GRANULARITIES: dict[str, Granularity] = {
    g.name: g
    for g in (
        Granularity("1m", timedelta(minutes=1), "1 minute", "1m"),
        Granularity("5m", timedelta(minutes=5), "5 minutes", "1m"),
        Granularity("15m", timedelta(minutes=15), "15 minutes", "1m"),
        Granularity("1h", timedelta(hours=1), "1 hour", "1h"),
        Granularity("6h", timedelta(hours=6), "6 hours", "1h"),
        Granularity("1d", timedelta(days=1), "1 day", "1d"),
        Granularity("1w", timedelta(weeks=1), "7 days", "1d"),
    )
}


@dataclass(frozen=True, slots=True)
class Family:
    """One family of window relations `<name>_1m`, `<name>_1h`, `<name>_1d` (and `<name>_<level>_source`
    views computing a level from the one below, or 1m from raw rows)."""

    name: str
    kind: str  # the window_invalidations.kind that marks this family stale
    keys: tuple[str, ...]
    state: tuple[tuple[str, Merge], ...]
    # The view giving this family's columns for 1-minute buckets straight from raw rows (what reads use for
    # not-yet-refreshed ranges); None: the family's own `<name>_1m_source`. A rollup family (fewer keys,
    # built from another family's relation) names the raw view of the family it rolls up.
    raw: str | None = None
    # For a rollup family: the family whose relation at the same level it merges (fewer keys).
    rollup_of: str | None = None

    def relation(self, level: LevelName) -> str:
        return f"{self.name}_{level}"

    def source(self, level: LevelName) -> str:
        return f"{self.name}_{level}_source"

    @property
    def raw_source(self) -> str:
        return self.raw or self.source("1m")

    @property
    def columns(self) -> tuple[str, ...]:
        return ("bucket", *self.keys, *(c for c, _ in self.state))

    def subset(self, columns: set[str]) -> Family:
        """The same family reading only the state columns in `columns`."""
        state = tuple((c, m) for c, m in self.state if c in columns)
        return Family(self.name, self.kind, self.keys, state, self.raw, self.rollup_of)


PREDICTIONS = Family(
    "predictions",
    "predictions",
    ("model_id", "version_id", "segment"),
    (
        ("n", "count"),
        ("n_labeled", "count"),
        ("label_delay_n", "count"),
        ("label_delay_sum", "sum"),
        ("label_delay_max", "max"),
        ("class_counts", "counts"),
        ("confusion", "counts"),
        ("score_hist_pos", "counts"),
        ("score_hist_neg", "counts"),
        ("score_n", "count"),
        ("score_sum", "sum"),
        ("loss_n", "count"),
        ("log_loss_sum", "sum"),
        ("brier_sum", "sum"),
        ("reg_n", "count"),
        ("err_sum", "sum"),
        ("abs_err_sum", "sum"),
        ("sq_err_sum", "sum"),
        ("ape_sum", "sum"),
        ("ape_n", "count"),
        ("sape_sum", "sum"),
        ("y_sum", "sum"),
        ("y2_sum", "sum"),
        ("pred_value_n", "count"),
        ("pred_value_sum", "sum"),
        ("pred_value_sumsq", "sum"),
        ("latency_n", "count"),
        ("latency_sum", "sum"),
        ("latency_min", "min"),
        ("latency_max", "max"),
        ("latency_hist", "counts"),
    ),
)

# The same state with the declared segments merged, one row per (bucket, model, version), and with the
# versions merged too, one row per (bucket, model). A model's per-version series is read from the first,
# its default series from the second, so their cost does not grow with the number of segment values (or
# versions). Each level is built from the relation one key finer at the same level (hierarchical
# continuous aggregates of equal width on the full edition, rollup tables on Apache).
PREDICTIONS_BY_VERSION = Family(
    "predictions_by_version",
    "predictions",
    ("model_id", "version_id"),
    PREDICTIONS.state,
    raw=PREDICTIONS.source("1m"),
    rollup_of=PREDICTIONS.name,
)
PREDICTIONS_BY_MODEL = Family(
    "predictions_by_model",
    "predictions",
    ("model_id",),
    PREDICTIONS.state,
    raw=PREDICTIONS.source("1m"),
    rollup_of=PREDICTIONS_BY_VERSION.name,
)

METRICS = Family(
    "metrics",
    "metrics",
    ("model_id", "name", "tags"),
    (
        ("n", "count"),
        ("value_sum", "sum"),
        ("value_sumsq", "sum"),
        ("value_min", "min"),
        ("value_max", "max"),
    ),
)

FEATURES = Family(
    "feature_hist",
    "features",
    ("model_id", "baseline_id", "feature"),
    (
        ("n", "count"),
        ("missing", "count"),
        ("out_of_range", "count"),
        ("counts", "counts"),
        # numeric features only (NULL for categorical ones): exact window mean / std, and the range that
        # bounds the open outer bins (migration 0006)
        ("value_sum", "sum"),
        ("value_sumsq", "sum"),
        ("value_min", "min"),
        ("value_max", "max"),
        # numeric features only: Σx per bin of `counts` (migration 0012), for the Wasserstein interval
        ("bin_sums", "sums"),
    ),
)

FAMILIES: dict[str, Family] = {f.kind: f for f in (PREDICTIONS, METRICS, FEATURES)}
# Families recomputed from another family's relation at the same level, after it: kind -> rollups.
ROLLUPS: dict[str, tuple[Family, ...]] = {"predictions": (PREDICTIONS_BY_VERSION, PREDICTIONS_BY_MODEL)}

# Fixed bins of the prediction windows (must match predictions_1m_source).
SCORE_BINS = 100
LATENCY_LOG10_LO = -2.0  # 10 µs
LATENCY_LOG10_HI = 5.0  # 100 s
LATENCY_BINS = 140  # 20 per decade: adjacent edges differ by a factor 10^(1/20) ≈ 1.122
MAX_DIMENSIONS = 4
