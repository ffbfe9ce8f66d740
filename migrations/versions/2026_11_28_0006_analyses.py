"""Baselines (named references per model), per-bin reference sums, scalar moments in the feature windows,
the `analysis_results` hypertable with its views, and SQL functions for PSI / JS per feature.

SQL: sql/schema/0006_analyses.up.sql / .down.sql (both editions), plus 0006_analyses_retention.sql on
the full edition (retention policy); hand-written, frozen once merged.

Revision ID: 0006_analyses
Revises: 0003_merged_windows
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import edition, run_file

revision = "0006_analyses"
down_revision = "0003_merged_windows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    run_file(bind, "0006_analyses.up.sql")
    if edition(bind) == "timescale":
        run_file(bind, "0006_analyses_retention.sql")


def downgrade() -> None:
    # Dropping the table drops its retention policy with it (full edition).
    run_file(op.get_bind(), "0006_analyses.down.sql")
