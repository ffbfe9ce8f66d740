"""Windows: 1-minute / hourly / daily window relations (rollup tables on the Apache edition, hierarchical
continuous aggregates on the full edition), feature baselines and histograms, invalidation triggers.

SQL: sql/schema/0002_windows.<edition>.up.sql and .down.sql, rendered by engine.windows.ddl when this
revision was written and frozen since; the edition is read from the database when the migration runs.

Revision ID: 0002_windows
Revises: 0001_core
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import edition, run_file

revision = "0002_windows"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), f"0002_windows.{edition(op.get_bind())}.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), f"0002_windows.{edition(op.get_bind())}.down.sql")
