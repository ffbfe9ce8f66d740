"""Store status and rejected input, for health checks and the operators' view."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from engine.errors import StoreUnavailableError
from engine.store import models_repo
from engine.store.db import Edition, detect_edition
from engine.store.sqlfiles import query
from engine.store.unit import UnitOfWork


class StoreService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.conn = uow.conn

    async def edition(self) -> Edition:
        try:
            return await detect_edition(self.conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreUnavailableError(f"database unavailable: {type(exc).__name__}") from exc

    async def schema_revision(self) -> str | None:
        try:
            rev: str | None = await self.conn.fetchval("SELECT version_num FROM alembic_version")
        except asyncpg.UndefinedTableError:
            return None
        return rev

    async def rejected(self, model_name: str | None, limit: int = 100) -> list[dict[str, Any]]:
        model_id = (await models_repo.get_model(self.conn, model_name)).id if model_name else None
        rows = await self.conn.fetch(query("ingest.select_rejected"), model_id, limit)
        out = []
        for r in rows:
            item = dict(r)
            item["payload"] = json.loads(item["payload"]) if item["payload"] is not None else None
            item["errors"] = json.loads(item["errors"])
            out.append(item)
        return out
