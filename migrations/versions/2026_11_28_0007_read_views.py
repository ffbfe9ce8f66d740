"""Precision, recall and F1 in the derived SQL views: `model_windows_1m/1h/1d` (per segment) and
`model_version_windows_1m/1h/1d` (per version) gain `precision_per_class`, `recall_per_class`,
`f1_per_class` (arrays in the model's class_labels order), their macro averages, and for binary models the
positive class's `precision`, `recall`, `f1` (functions `dl_class_rates`, `dl_array_mean`).

SQL: sql/schema/0007_read_views.<edition>.up.sql and .down.sql, rendered by engine.windows.ddl when this
revision was written and frozen since; the edition is read from the database when the migration runs.

Revision ID: 0007_read_views
Revises: 0006_analyses
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import edition, run_file

revision = "0007_read_views"
down_revision = "0006_analyses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), f"0007_read_views.{edition(op.get_bind())}.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), f"0007_read_views.{edition(op.get_bind())}.down.sql")
