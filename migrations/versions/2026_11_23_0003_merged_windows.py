"""Merged prediction windows: `predictions_by_version_1m/1h/1d` (segments merged, one row per bucket, model
and version), `predictions_by_model_1m/1h/1d` (versions merged too) and the SQL views
`model_version_windows_1m/1h/1d`. The default and per-version metric reads come from these, so their cost
does not grow with the number of segment values.

Revision ID: 0003_merged_windows
Revises: 0002_windows
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

from engine.store.sqlfiles import timescale_license
from engine.windows import ddl

revision = "0003_merged_windows"
down_revision = "0002_windows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    ddl.upgrade_merged(op.get_bind(), timescale_license(op.get_bind()))


def downgrade() -> None:
    ddl.downgrade_merged(op.get_bind())
