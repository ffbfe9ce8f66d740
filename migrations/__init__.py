"""Alembic migrations (`env.py`, `versions/`) and the one helper revisions may import (`frozen_sql`)."""
