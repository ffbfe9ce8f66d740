"""Column orders of the COPY targets (the binary encoder in copy_binary writes predictions in this order)."""

from __future__ import annotations

PREDICTION_COLUMNS = (
    "time", "model_id", "version_id", "prediction_id", "predicted_class", "predicted_value", "score",
    "probabilities", "latency_ms", "segments", "num_features", "cat_features", "label_class", "label_value",
    "label_time",
)
METRIC_COLUMNS = ("time", "model_id", "name", "value", "tags")
