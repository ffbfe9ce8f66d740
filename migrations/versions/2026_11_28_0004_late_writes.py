"""Writes into old (possibly compressed) history: `prediction_times` (each prediction's time by id, filled by
an insert trigger), `dl_invalidate(kind, model_id, lo, hi)` and `dl_delete_predictions(model, start, end,
ids)`.

SQL: sql/schema/0004_late_writes.up.sql and .down.sql (the same on both editions), fixed text; this revision
imports nothing from the engine.

Revision ID: 0004_late_writes
Revises: 0003_merged_windows
Create Date: 2026-11-28
"""

from __future__ import annotations

from pathlib import Path

from alembic import op
from sqlalchemy.engine import Connection

revision = "0004_late_writes"
down_revision = "0003_merged_windows"
branch_labels = None
depends_on = None

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def _run_file(bind: Connection, filename: str) -> None:
    """Run a committed SQL file as one script: asyncpg's `execute` without arguments uses the simple query
    protocol, which takes several statements (SQLAlchemy's dialect would prepare them one by one)."""
    from sqlalchemy.util import await_only

    raw = bind.connection.driver_connection
    assert raw is not None, "the Alembic connection has no driver connection"
    await_only(raw.execute((SCHEMA_DIR / filename).read_text()))


def upgrade() -> None:
    _run_file(op.get_bind(), "0004_late_writes.up.sql")


def downgrade() -> None:
    _run_file(op.get_bind(), "0004_late_writes.down.sql")
