"""`driftline db start|stop|status|url`: the project-local development cluster (scripts/cluster.sh)."""

from __future__ import annotations

import argparse
import subprocess

from engine.cli.context import CliContext
from engine.cli.repo import require

ACTIONS = ("start", "stop", "status", "url")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("db", help="start, stop or inspect the project-local PostgreSQL + TimescaleDB cluster",
                       description="Wraps scripts/cluster.sh (development and test cluster in .driftline/). "
                       "To use another database, set DRIFTLINE_DATABASE_URL instead.")
    p.add_argument("action", choices=ACTIONS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    script = require("scripts/cluster.sh", ctx.root_override)
    # The script's own exit codes are the contract (status: 0 running, 3 not running).
    return subprocess.call(["bash", str(script), args.action])
