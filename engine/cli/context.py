"""What every command handler receives: the settings and the start-up environment, read once in main()."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from engine.config import Settings
from engine.errors import DriftlineError
from engine.store.db import create_pool

T = TypeVar("T")


class UsageError(DriftlineError):
    """The command line itself is wrong (exit 2, like argparse's own usage errors)."""


@dataclass(frozen=True, slots=True)
class CliContext:
    settings: Settings
    root_override: str | None  # DRIFTLINE_ROOT: where the source checkout is, when not found on its own

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CliContext:
        return cls(settings=Settings.from_env(env), root_override=env.get("DRIFTLINE_ROOT") or None)


Handler = Callable[[argparse.Namespace, CliContext], int]


def run_with_pool(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Open a pool on the configured database, run `work` on it, close the pool."""

    async def go() -> T:
        pool = await create_pool(settings.database_url, min_size=1, max_size=4)
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(go())
