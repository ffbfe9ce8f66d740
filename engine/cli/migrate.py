"""`driftline migrate [upgrade|downgrade|current|history] [REV]`: Alembic, programmatically.

`sqlalchemy.url` comes from the settings (DRIFTLINE_DATABASE_URL). migrations/env.py runs its own event
loop, so Alembic is called from synchronous code here, never from inside a running loop.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from engine.cli.context import CliContext, UsageError
from engine.cli.repo import require
from engine.config import Settings
from engine.errors import StoreUnavailableError

if TYPE_CHECKING:
    from alembic.config import Config

ACTIONS = ("upgrade", "downgrade", "current", "history")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("migrate", help="apply or revert database migrations (Alembic)",
                       description="upgrade [REV] (default head), downgrade REV (e.g. base or -1), "
                       "current, history.")
    p.add_argument("action", nargs="?", choices=ACTIONS, default="upgrade")
    p.add_argument("revision", nargs="?", default=None, help="target revision (upgrade: head; downgrade: required)")
    p.set_defaults(handler=run)


def alembic_config(settings: Settings, root_override: str | None) -> Config:
    from alembic.config import Config

    ini = require("alembic.ini", root_override)
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(ini.parent / "migrations"))
    # ConfigParser interpolation: a literal '%' (percent-encoded passwords) must be doubled.
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return cfg


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    from alembic import command  # imported here: it costs ~0.5 s that other commands should not pay
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    cfg = alembic_config(ctx.settings, ctx.root_override)
    try:
        if args.action == "upgrade":
            command.upgrade(cfg, args.revision or "head")
            _report(cfg)
        elif args.action == "downgrade":
            if not args.revision:
                raise UsageError("migrate downgrade: name the target revision (e.g. base or -1)")
            command.downgrade(cfg, args.revision)
            _report(cfg)
        elif args.action == "current":
            command.current(cfg, verbose=False)
        else:
            command.history(cfg)
    except CommandError as exc:
        raise UsageError(f"migrate {args.action}: {exc}") from exc
    except (OSError, DBAPIError) as exc:
        raise StoreUnavailableError(f"cannot migrate the database: {exc}") from exc
    return 0


def _report(cfg: Config) -> None:
    from alembic import command

    cfg.print_stdout("database revision now:")
    command.current(cfg, verbose=False)
