"""Writes into old (possibly compressed) history: `prediction_times` (each prediction's time by id, filled by
an insert trigger), `dl_invalidate(kind, model_id, lo, hi)` and `dl_delete_predictions(model, start, end,
ids)`.

SQL: sql/schema/0004_late_writes.up.sql / .down.sql (the same on both editions), hand-written, frozen once
merged. Numbered 0004 when it was planned; it runs after 0005_ingest_log.

Revision ID: 0004_late_writes
Revises: 0005_ingest_log
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import run_file

revision = "0004_late_writes"
down_revision = "0005_ingest_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_file(op.get_bind(), "0004_late_writes.up.sql")


def downgrade() -> None:
    run_file(op.get_bind(), "0004_late_writes.down.sql")
