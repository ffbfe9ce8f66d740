"""API keys and the shared rate-limit counters (small tables; statements in sql/queries/access.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from engine.errors import ConflictError, NotFoundError
from engine.store.sqlfiles import query


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as listed: everything but its hash."""

    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    models: tuple[str, ...] | None
    comment: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeyCredentials:
    """What authenticating a presented key needs from its row."""

    id: int
    name: str
    hmac: bytes
    secret_id: str
    scopes: tuple[str, ...]
    models: tuple[str, ...] | None
    revoked: bool
    stale_use: bool  # last_used_at is older than a minute (or never set): worth recording this use


@dataclass(frozen=True, slots=True)
class CounterHit:
    count: int
    seconds_left: float


def _stored(row: asyncpg.Record) -> StoredKey:
    return StoredKey(
        id=row["id"], name=row["name"], prefix=row["prefix"], scopes=tuple(row["scopes"]),
        models=tuple(row["models"]) if row["models"] is not None else None, comment=row["comment"],
        created_by=row["created_by"], created_at=row["created_at"], revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


async def insert_key(
    conn: asyncpg.Connection, name: str, prefix: str, hmac: bytes, secret_id: str, scopes: Sequence[str],
    models: Sequence[str] | None, comment: str, created_by: str,
) -> StoredKey:
    try:
        row = await conn.fetchrow(query("access.insert_key"), name, prefix, hmac, secret_id, list(scopes),
                                  list(models) if models is not None else None, comment, created_by)
    except asyncpg.UniqueViolationError as exc:  # a 48-bit prefix collision: the caller draws again
        raise ConflictError(f"key prefix {prefix} already exists") from exc
    assert row is not None
    return _stored(row)


async def list_keys(conn: asyncpg.Connection, include_revoked: bool) -> list[StoredKey]:
    return [_stored(r) for r in await conn.fetch(query("access.list_keys"), include_revoked)]


async def revoke_key(conn: asyncpg.Connection, key_id: int | None, prefix: str | None) -> StoredKey:
    row = await conn.fetchrow(query("access.revoke_key"), key_id, prefix)
    if row is None:
        raise NotFoundError(f"no API key {key_id if key_id is not None else prefix!r}")
    return _stored(row)


async def any_key(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(query("access.any_key")))


async def key_by_prefix(conn: asyncpg.Connection, prefix: str) -> KeyCredentials | None:
    row = await conn.fetchrow(query("access.key_by_prefix"), prefix)
    if row is None:
        return None
    return KeyCredentials(
        id=row["id"], name=row["name"], hmac=bytes(row["hmac"]), secret_id=row["secret_id"],
        scopes=tuple(row["scopes"]), models=tuple(row["models"]) if row["models"] is not None else None,
        revoked=row["revoked_at"] is not None, stale_use=row["stale_use"],
    )


async def touch_key(conn: asyncpg.Connection, key_id: int) -> None:
    await conn.execute(query("access.touch_key"), key_id)


async def hit_counter(conn: asyncpg.Connection, bucket: str, window_seconds: int, amount: int) -> CounterHit:
    row = await conn.fetchrow(query("access.hit_counter"), bucket, window_seconds, amount)
    assert row is not None
    return CounterHit(count=row["count"], seconds_left=max(row["seconds_left"], 0.0))


async def prune_counters(conn: asyncpg.Connection, older_than_seconds: int) -> None:
    await conn.execute(query("access.prune_counters"), older_than_seconds)
