"""Per-bin sums in the feature windows: `feature_hist_1m/1h/1d` gain `bin_sums` (float8[], Σx per bin of
`counts`, numeric features only), the views computing 1h / 1d merge them (aggregate `dl_sum_sums`); every
model with an active baseline has its feature windows invalidated so the refresher recomputes them with
their sums.

SQL: sql/schema/0012_feature_bin_sums.<edition>.up.sql and .down.sql, rendered by engine.windows.ddl when
this revision was written and frozen since (the same text on both editions: the feature windows are
engine-maintained tables on both).

Revision ID: 0012_feature_bin_sums
Revises: 0004_late_writes
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import edition, run_file

revision = "0012_feature_bin_sums"
down_revision = "0010_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), f"0012_feature_bin_sums.{edition(op.get_bind())}.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), f"0012_feature_bin_sums.{edition(op.get_bind())}.down.sql")
