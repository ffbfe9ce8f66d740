"""Async Alembic environment. The URL comes from the `sqlalchemy.url` option when a caller set one
(tests, the CLI), else from DRIFTLINE_DATABASE_URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from engine.config import Settings, to_sqlalchemy_url

config = context.config


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return to_sqlalchemy_url(configured) if configured else Settings.from_env().sqlalchemy_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), literal_binds=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    # One transaction per revision so a revision that needs an autocommit block (continuous
    # aggregate refreshes) does not commit half of another revision.
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
