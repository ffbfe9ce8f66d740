"""Analytics-pipeline jobs: `analytics_jobs` (job id, model, the two server-side Parquet paths, frequency,
schedule claim) and `analytics_job_runs` (run history: batch id, status, timing, rows, outputs, error and
traceback).

SQL: sql/schema/0009_analytics_jobs.up.sql and .down.sql (hand-written, the same on both editions).

Revision ID: 0009_analytics_jobs
Revises: 0004_late_writes
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0009_analytics_jobs"
down_revision = "0004_late_writes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0009_analytics_jobs.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0009_analytics_jobs.down.sql")
