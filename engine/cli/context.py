"""What every command handler receives: the settings and the start-up environment, read once in main()."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from engine.config import Settings
from engine.errors import DriftlineError
from engine.store.unit import UnitOfWork, unit_from_url

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


def run_in_unit(settings: Settings, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run `work` on one unit of work: a connection of its own to the configured database, closed after."""

    async def go() -> T:
        async with unit_from_url(settings.database_url) as uow:
            return await work(uow)

    return asyncio.run(go())
