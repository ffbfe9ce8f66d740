"""Keys and settings the access-control tests share."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from engine.config import AccessSettings, RateLimit, Settings
from engine.services.access.keys import KeyService
from engine.services.access.secret import ServerSecret
from engine.store.unit import unit_from_pool

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
ENV_KEY = "env-admin-key-for-tests-0123456789"
OFF = RateLimit(0, 60)


def access_settings(db_url: str, api_key: str | None = ENV_KEY, ingest: RateLimit = OFF,
                    failed_auth: RateLimit = OFF, mode: str = "auto") -> Settings:
    return Settings(database_url=db_url, api_key=api_key, pool_max_size=4, max_batch_rows=500,
                    access=AccessSettings(mode=mode, secret_key=SECRET, ingest_rate=ingest,  # type: ignore[arg-type]
                                          failed_auth_rate=failed_auth))


def server_secret() -> ServerSecret:
    return ServerSecret.of(SECRET, "test")


@dataclass(frozen=True)
class Keys:
    read: str
    ingest: str
    admin: str
    revoked: str
    limited: str  # read + ingest, model `limited_to` only
    limited_to: str


async def issue_keys(pool: asyncpg.Pool, limited_to: str) -> Keys:
    secret = server_secret()
    async with unit_from_pool(pool) as uow:
        svc = KeyService(uow)
        read = await svc.create(secret, "reader", ["read"])
        ingest = await svc.create(secret, "pipeline", ["ingest"])
        admin = await svc.create(secret, "ops", ["admin"])
        revoked = await svc.create(secret, "old", ["admin"])
        await svc.revoke(revoked.key.prefix)
        limited = await svc.create(secret, "team-a", ["read", "ingest"], [limited_to])
    return Keys(read.token, ingest.token, admin.token, revoked.token, limited.token, limited_to)
