"""Windows: 1-minute / hourly / daily window relations (rollup tables on the Apache edition, hierarchical
continuous aggregates on the full edition), feature baselines and histograms, invalidation triggers.

Revision ID: 0002_windows
Revises: 0001_core
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from engine.store.sqlfiles import timescale_license
from engine.windows import ddl

revision = "0002_windows"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ddl.upgrade(op.get_bind(), timescale_license(op.get_bind()))


def downgrade() -> None:
    ddl.downgrade(op.get_bind())
