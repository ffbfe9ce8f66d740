"""Connection pools and edition detection."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from engine.errors import StoreUnavailableError


@dataclass(frozen=True, slots=True)
class Edition:
    """Which TimescaleDB is underneath: `license` is 'timescale' (continuous aggregates, policies,
    compression) or 'apache' (hypertables only)."""

    version: str
    license: str

    @property
    def has_continuous_aggregates(self) -> bool:
        return self.license == "timescale"


async def detect_edition(conn: asyncpg.Connection) -> Edition:
    version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    if version is None:
        raise StoreUnavailableError("the timescaledb extension is not installed in this database")
    license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)")
    return Edition(version=version, license=license_ or "apache")


async def create_pool(url: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool with asyncpg's default codecs: jsonb travels as JSON text, which lets the ingest path send
    pre-encoded (and memoised) segment maps instead of re-encoding a dict per row."""
    try:
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreUnavailableError(f"cannot connect to the database: {exc}") from exc
    assert pool is not None
    return pool
