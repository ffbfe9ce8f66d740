"""Validated, idempotent, COPY-based ingest of predictions, labels and metrics."""
