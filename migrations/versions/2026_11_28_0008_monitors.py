"""Monitors and their run history, and the job queue (procrastinate 3.10's schema, frozen as SQL).

SQL: sql/schema/0008_procrastinate.up.sql (procrastinate's own schema file, copied verbatim), then
sql/schema/0008_monitors.up.sql; 0008_monitors.down.sql drops both (both editions). Hand-written, frozen once
merged; procrastinate is not imported here.

Revision ID: 0008_monitors
Revises: 0004_late_writes
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0008_monitors"
down_revision = "0013_dimensions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    run_file(bind, "0008_procrastinate.up.sql")
    run_file(bind, "0008_monitors.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0008_monitors.down.sql")
