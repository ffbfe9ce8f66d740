"""Per-test databases whose DROP runs in the background.

The same contract as tests/conftest.py's `db_url` (a fresh clone of the migrated template per test), but the
DROP DATABASE — which waits for a checkpoint and took most of these suites' time on a busy machine (0.8–3 s
per test against ~0.2 s for the test itself) — is not awaited in each test's teardown; all drops are awaited
together at the end of the session. Re-exported by the conftest.py of tests/ingest, tests/api, tests/store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from tests.conftest import create_database, drop_database


@pytest.fixture(scope="session")
async def background_drops() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    await asyncio.gather(*tasks)


@pytest.fixture
async def db_url(cluster_url: str, template_db: str, background_drops: list[asyncio.Task[None]]) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"driftline_t_{uuid.uuid4().hex[:12]}"
    url = await create_database(cluster_url, name, template=template_db)
    yield url
    background_drops.append(asyncio.get_running_loop().create_task(drop_database(cluster_url, name)))
