"""Dimensions declared later, and reads exact below the minute.

- `window_invalidations.force`: a dimension declared after data exists changes what the prediction windows
  hold (their segment key) without any write to the raw rows. On the Apache edition the refresher recomputes
  every recorded range anyway; a continuous aggregate (full edition) skips ranges its own invalidation log
  does not list, so the refresher refreshes ranges recorded with `force` using
  `refresh_continuous_aggregate(…, force => true)`.
- `dl_predictions_between(model, lo, hi)`, `dl_metrics_between(model, lo, hi)`: the 1-minute source views'
  rows of one model over raw rows with lo <= time < hi for any bounds, which reads use for the minutes a
  sub-minute bound of [start, end) cuts. New functions only: no window relation or view changes.

SQL: sql/schema/0013_dimensions.up.sql and .down.sql (the same on both editions).

Revision ID: 0013_dimensions
Revises: 0004_late_writes
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0013_dimensions"
down_revision = "0011_baseline_samples"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0013_dimensions.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0013_dimensions.down.sql")
