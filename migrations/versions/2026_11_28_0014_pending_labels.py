"""Labels for predictions in compressed history, acknowledged at once and applied by the refresher.

- `pending_labels`: one row per labelled prediction (model, prediction id, time) whose chunk is compressed
  when the label arrives; upserted by label ingest (last write wins), durable with the batch.
- `dl_apply_pending_labels(model_id, gap)`: takes a model's pending labels out and applies them with one
  UPDATE per run of nearby times within a chunk; the refresher calls it before deriving windows.
- `predictions_labelled`: `predictions` with pending labels laid over, for reads of labels from raw rows.

SQL: sql/schema/0014_pending_labels.up.sql and .down.sql (the same on both editions: on the Apache edition
nothing is compressed and the table stays empty).

Revision ID: 0014_pending_labels
Revises: 0012_feature_bin_sums
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0014_pending_labels"
down_revision = "0012_feature_bin_sums"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0014_pending_labels.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0014_pending_labels.down.sql")
