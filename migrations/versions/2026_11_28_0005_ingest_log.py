"""Ingest log: `rejected_rows.errors` (one entry per refused row, every error inside) and the indexes the
retention of rejected_rows and ingest_batches deletes by.

SQL: sql/schema/0005_ingest_log.up.sql and .down.sql (hand-written, the same on both editions).

Revision ID: 0005_ingest_log
Revises: 0007_read_views
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0005_ingest_log"
down_revision = "0007_read_views"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0005_ingest_log.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0005_ingest_log.down.sql")
