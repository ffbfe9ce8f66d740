from __future__ import annotations

from tests.ingest import databases

# Per-test databases dropped in the background (see tests/ingest/databases.py).
db_url = databases.db_url
background_drops = databases.background_drops
