"""Hardening and access: `rejected_rows.errors` (one entry per refused row), retention indexes on
rejected_rows and ingest_batches, `api_keys` (HMAC-SHA256 digests, scopes, model limits, last use) and the
unlogged `rate_limit_counters` shared by every API worker.

SQL: sql/schema/0005_access.up.sql and .down.sql (hand-written, the same on both editions).

Revision ID: 0005_access
Revises: 0003_merged_windows
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0005_access"
down_revision = "0003_merged_windows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0005_access.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0005_access.down.sql")
