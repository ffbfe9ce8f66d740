"""A cheap wire form for the window count arrays: `dl_array_bytes(anyarray) -> bytea`, an array's stored
bytes (PostgreSQL's `byteasend` declared for arrays), created when the migration runs as a superuser.
Window reads use it when present (probed per connection) and `array_send` otherwise.

SQL: sql/schema/0015_array_bytes.up.sql and .down.sql (the same on both editions).

Revision ID: 0015_array_bytes
Revises: 0014_pending_labels
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0015_array_bytes"
down_revision = "0014_pending_labels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0015_array_bytes.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0015_array_bytes.down.sql")
