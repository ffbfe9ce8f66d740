"""Scoped API keys (`api_keys`: HMAC-SHA256 of the token, scopes, model limits, revocation, last use) and the
fixed-window rate-limit counters every API process shares (`rate_counters`, unlogged).

SQL: sql/schema/0010_api_keys.up.sql and .down.sql, hand-written and frozen; the same on both editions.

Revision ID: 0010_api_keys
Revises: 0004_late_writes
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0010_api_keys"
down_revision = "0008_monitors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0010_api_keys.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0010_api_keys.down.sql")
