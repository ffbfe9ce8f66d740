"""A bounded reference sample kept with each baseline (`baseline_samples`): the raw feature rows that
multivariate drift (domain classifier, PCA reconstruction) compares a window with. A baseline built from
uploaded data keeps no raw rows in `predictions`, so the sample is stored with the baseline for both sources.

SQL: sql/schema/0011_baseline_samples.up.sql / .down.sql (the same on both editions), hand-written, frozen
once merged.

Revision ID: 0011_baseline_samples
Revises: 0004_late_writes
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0011_baseline_samples"
down_revision = "0009_analytics_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0011_baseline_samples.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0011_baseline_samples.down.sql")
