"""Models with a labelled reference period and an unlabelled, shifted current hour, for the monitor tests."""

from __future__ import annotations

import asyncpg
import numpy as np

from engine.services.baselines.service import BaselineService
from engine.store import models_repo
from engine.store.unit import unit_from_pool
from tests.analyses.support import CUR_END, CUR_START, REF_END, REF_START, insert_rows
from tests.ingest.support import register_all


async def data(pool: asyncpg.Pool, baseline: bool = True, labeled_reference: bool = True,
               n_current: int = 600) -> dict:
    models = await register_all(pool)
    rng = np.random.default_rng(14)
    async with pool.acquire() as conn:
        for m in models.values():
            [v1, *_] = await models_repo.list_versions(conn, m.id)
            await insert_rows(conn, m, v1.id, rng, REF_START, REF_END, 1200, labeled=labeled_reference, prefix="ref")
            if n_current:
                await insert_rows(conn, m, v1.id, rng, CUR_START, CUR_END, n_current, shifted=True, labeled=False,
                                  prefix="cur")
    if baseline:
        async with unit_from_pool(pool) as uow:
            for name in models:
                await BaselineService(uow).create_from_range(name, "ref", REF_START, REF_END)
    return models


__all__ = ["CUR_END", "CUR_START", "REF_END", "REF_START", "data"]
