"""The catalogue of metrics the windows derive: their names per model task, the state columns each reads,
and the shape of a derived bucket (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

RATES = ("precision", "recall", "f1")
CLASSIFICATION = (
    "accuracy",
    "balanced_accuracy",
    *(f"{r}_{avg}" for r in RATES for avg in ("macro", "micro", "weighted")),
)
BINARY = ("precision", "recall", "f1", "roc_auc", "average_precision", "ece")
SCORE_HISTOGRAM_METRICS = ("roc_auc", "average_precision", "ece")
LOSSES = ("log_loss", "brier")
REGRESSION = ("mse", "rmse", "mae", "r2", "mape", "smape", "bias")
GENERAL = (
    "count",
    "throughput_per_s",
    "label_coverage",
    "label_delay_mean_s",
    "label_delay_max_s",
    "score_mean",
    "prediction_mean",
    "latency_mean_ms",
    "latency_max_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
)
PER_CLASS = tuple(f"{r}_per_class" for r in RATES)


_GENERAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "label_coverage": ("n_labeled",),
    "label_delay_mean_s": ("label_delay_n", "label_delay_sum"),
    "label_delay_max_s": ("label_delay_max",),
    "score_mean": ("score_n", "score_sum"),
    "prediction_mean": ("pred_value_n", "pred_value_sum"),
    "latency_mean_ms": ("latency_n", "latency_sum"),
    "latency_max_ms": ("latency_max",),
    "latency_p50_ms": ("latency_n", "latency_hist", "latency_min", "latency_max"),
    "latency_p95_ms": ("latency_n", "latency_hist", "latency_min", "latency_max"),
    "latency_p99_ms": ("latency_n", "latency_hist", "latency_min", "latency_max"),
    **{m: ("score_hist_pos", "score_hist_neg") for m in SCORE_HISTOGRAM_METRICS},
    "log_loss": ("loss_n", "log_loss_sum", "brier_sum"),
    "brier": ("loss_n", "log_loss_sum", "brier_sum"),
}
_REGRESSION_COLUMNS = (
    "reg_n",
    "err_sum",
    "abs_err_sum",
    "sq_err_sum",
    "ape_sum",
    "ape_n",
    "sape_sum",
    "y_sum",
    "y2_sum",
)


def needed_columns(metrics: set[str]) -> set[str]:
    """State columns the given metrics read (fetching only these keeps reads small)."""
    cols = {"n"}
    for m in metrics:
        if m in _GENERAL_COLUMNS:
            cols.update(_GENERAL_COLUMNS[m])
        elif m in REGRESSION:
            cols.update(_REGRESSION_COLUMNS)
        elif m in CLASSIFICATION or m in PER_CLASS or m in ("precision", "recall", "f1"):
            cols.add("confusion")
    return cols


def metric_names(task: str) -> tuple[str, ...]:
    """Every metric the windows derive for a model of this task."""
    if task == "regression":
        return GENERAL + REGRESSION
    base = GENERAL + CLASSIFICATION + PER_CLASS + ("log_loss", "brier")
    return base + BINARY if task == "binary" else base


# The sample each metric rests on, by name of that sample ("basis"): the served points carry one size per
# basis in use (`sample_sizes`), the series says once which basis each metric uses.
#   rows: predictions; labelled: labelled predictions with a predicted class (classifiers: the confusion
#   total) or a predicted value (regression); labelled_scored: labelled binary predictions with a score;
#   labelled_loss: labelled predictions with a score / probabilities; label_delay: labels with a label
#   time; latency: predictions with a latency; scored: predictions with a score.
SAMPLE_BASIS: dict[str, str] = {
    "count": "rows",
    "throughput_per_s": "rows",
    "label_coverage": "rows",
    "label_delay_mean_s": "label_delay",
    "label_delay_max_s": "label_delay",
    "score_mean": "scored",
    **{m: "latency" for m in GENERAL if m.startswith("latency_")},
    **{m: "labelled" for m in (*CLASSIFICATION, *PER_CLASS, *RATES, *REGRESSION)},
    **{m: "labelled_scored" for m in SCORE_HISTOGRAM_METRICS},
    **{m: "labelled_loss" for m in LOSSES},
}


@dataclass(frozen=True, slots=True)
class Derived:
    values: dict[str, float | None]
    error_bounds: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, dict[str, float | None]] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    per_class_intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    sample_sizes: dict[str, int] = field(default_factory=dict)
