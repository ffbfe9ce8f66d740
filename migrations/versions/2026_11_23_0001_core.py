"""Core store: model registry, predictions and metrics hypertables, batches, rejected rows.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from migrations.frozen_sql import edition, run_file, store_layout

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    store = store_layout()
    run_file(op.get_bind(), "0001_core.up.sql", chunk_interval=store.chunk_interval)
    if edition(op.get_bind()) != "timescale":
        # Apache edition: no columnstore or policies; retention is done by the worker with drop_chunks.
        return
    if store.compress_after:
        for table, segment_by in (("predictions", "model_id, version_id"), ("metrics", "model_id, name")):
            op.execute(
                f"ALTER TABLE {table} SET (timescaledb.compress, "
                f"timescaledb.compress_segmentby = '{segment_by}', timescaledb.compress_orderby = 'time DESC')"
            )
            op.execute(f"SELECT add_compression_policy('{table}', INTERVAL '{store.compress_after}')")
    if store.retention:
        for table in ("predictions", "metrics"):
            op.execute(f"SELECT add_retention_policy('{table}', INTERVAL '{store.retention}')")


def downgrade() -> None:
    run_file(op.get_bind(), "0001_core.down.sql")
