"""Merged prediction windows: `predictions_by_version_1m/1h/1d` (segments merged, one row per bucket, model
and version), `predictions_by_model_1m/1h/1d` (versions merged too) and the SQL views
`model_version_windows_1m/1h/1d`. The default and per-version metric reads come from these, so their cost
does not grow with the number of segment values.

SQL: sql/schema/0003_merged_windows.<edition>.up.sql and .down.sql, rendered by engine.windows.ddl when this
revision was written and frozen since; the edition is read from the database when the migration runs.

Revision ID: 0003_merged_windows
Revises: 0002_windows
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import edition, run_file

revision = "0003_merged_windows"
down_revision = "0002_windows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), f"0003_merged_windows.{edition(op.get_bind())}.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), f"0003_merged_windows.{edition(op.get_bind())}.down.sql")
