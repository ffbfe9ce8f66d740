"""The unit of work: one database connection that an API request, a CLI command or a job run opens once and
hands down to every service it calls, so that what they read and write can share one transaction.

Services never take connections of their own. The one exception is asked for explicitly: a caller that can
spare connections grants `UnitOfWork.spare`, and a long read inside a snapshot of its own may then read part
of that same snapshot on a second connection (`Snapshot.borrow`, via `pg_export_snapshot`)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from engine.errors import StoreUnavailableError

_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+-[0-9]+$")
# What failing to obtain a connection looks like: the server is down, restarting or full.
CONNECT_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A consistent read: `conn` sees one snapshot for as long as the `UnitOfWork.snapshot()` block lasts.
    `spare` is set only when that snapshot is a read-only transaction of its own (so it can be exported)
    and the unit's caller granted spare connections."""

    conn: asyncpg.Connection
    spare: asyncpg.Pool | None = None

    @asynccontextmanager
    async def borrow(self) -> AsyncIterator[asyncpg.Connection]:
        """A second connection reading this same snapshot (only when `spare` is granted)."""
        if self.spare is None:
            raise RuntimeError("this snapshot cannot be shared: no spare connections were granted")
        snapshot_id = await self.conn.fetchval("SELECT pg_export_snapshot()")
        if not isinstance(snapshot_id, str) or not _SNAPSHOT_ID.match(snapshot_id):
            raise RuntimeError(f"unexpected snapshot id {snapshot_id!r}")
        async with self.spare.acquire() as other, other.transaction(isolation="repeatable_read", readonly=True):
            # SET TRANSACTION SNAPSHOT takes no bind parameter; the id comes from the server and is checked above.
            await other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
            yield other


@dataclass(frozen=True, slots=True)
class UnitOfWork:
    conn: asyncpg.Connection
    # Connections the caller lets a read borrow for parallel parts of one snapshot; None: `conn` only.
    spare: asyncpg.Pool | None = None

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        """A consistent snapshot for several reads. Inside a transaction the caller already opened, that
        transaction is the snapshot (its own uncommitted writes must be seen, so nothing is borrowed);
        otherwise a REPEATABLE READ read-only transaction for the length of the block."""
        if self.conn.is_in_transaction():
            yield Snapshot(self.conn)
            return
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):
            yield Snapshot(self.conn, self.spare)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction on the unit's connection (a savepoint inside one the caller opened)."""
        async with self.conn.transaction():
            yield self.conn


@asynccontextmanager
async def unit_from_pool(pool: asyncpg.Pool, *, share: bool = True) -> AsyncIterator[UnitOfWork]:
    """A unit holding one connection of `pool` (released at the end); `share` grants the pool as spare."""
    try:
        conn = await pool.acquire()
    except CONNECT_ERRORS as exc:
        raise StoreUnavailableError(f"database unavailable: {type(exc).__name__}") from exc
    try:
        yield UnitOfWork(conn, pool if share else None)
    finally:
        await pool.release(conn)


@asynccontextmanager
async def unit_from_url(url: str) -> AsyncIterator[UnitOfWork]:
    """A unit on a connection of its own (a CLI command): nothing to share, closed at the end."""
    try:
        conn = await asyncpg.connect(url)
    except CONNECT_ERRORS as exc:
        raise StoreUnavailableError(f"cannot connect to the database: {exc}") from exc
    try:
        yield UnitOfWork(conn)
    finally:
        await conn.close()
