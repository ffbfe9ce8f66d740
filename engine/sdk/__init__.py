"""driftline's Python SDK: log predictions, labels and metrics over the REST API.

`Client` (sync) and `AsyncClient` (async) have the same methods:

- registry: `create_model`, `get_model`, `list_models`, `create_version`, `list_versions`, `promote`, `archive`,
  answering with the domain types `engine.domain.ModelSpec` and `VersionInfo` (the server's own description);
- ingest: `log_predictions(model, rows_or_frame, version=None, partial=False, segment_columns=())`,
  `log_labels(model, rows_or_frame, partial=False)`, `log_metrics(rows_or_frame, model=None, partial=False)`;
- window reads: `window_metrics`, `custom_metric_windows`, `feature_windows`, answering with Polars frames
  (`frame="pandas"` for pandas), one row per (bucket, group), one column per metric (`engine.sdk.reads`).

Ingest input is a list (any iterable) of dicts, a polars DataFrame or a pandas DataFrame. Input is split into
batches of `batch_size` rows (default 10,000); frames go over the wire as Arrow IPC streams, dict rows as
JSON. Each batch carries its own `Idempotency-Key` (a fresh uuid4, reused by that batch's retries), so a
retry after a lost answer is answered from the first result and never stores a row twice.

Retries: exponential backoff with full jitter on connection failures, timeouts, 5xx and 429; never on other
4xx (`RetryPolicy`). Errors: `DriftlineAPIError` (status, detail, per-row `errors` renumbered to the
caller's input) and `DriftlineConnectionError`; both carry `completed`, the batches stored before the
failure. Batches are sent in order and earlier batches stay stored when a later one fails.
"""

from __future__ import annotations

from engine.sdk.async_client import AsyncClient
from engine.sdk.client import Client
from engine.sdk.errors import DriftlineAPIError, DriftlineClientError, DriftlineConnectionError
from engine.sdk.results import BatchResult, IngestSummary
from engine.sdk.retry import RetryPolicy

__all__ = [
    "AsyncClient",
    "BatchResult",
    "Client",
    "DriftlineAPIError",
    "DriftlineClientError",
    "DriftlineConnectionError",
    "IngestSummary",
    "RetryPolicy",
]
