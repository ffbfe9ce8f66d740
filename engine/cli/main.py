"""`driftline` entry point: builds the parser, reads the settings once, dispatches, maps errors to exit codes.

Exit codes: 0 success; 1 other driftline errors (database unreachable, missing files); 2 invalid input or
usage (row/field/reason lines on stderr); 3 not found; 4 conflict (e.g. the model already exists).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import asyncpg

from engine.cli import (
    analytics_jobs,
    analyze,
    db,
    ingest,
    keys,
    migrate,
    models,
    monitors,
    predictions,
    serve,
    worker,
)
from engine.cli.context import CliContext, Handler, UsageError
from engine.cli.output import fail, row_errors
from engine.config import SettingsError
from engine.errors import ConflictError, DriftlineError, NotFoundError, ValidationError

EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftline",
        description="Model monitoring on TimescaleDB. The database is DRIFTLINE_DATABASE_URL "
        "(default: the project-local cluster, postgresql://postgres@127.0.0.1:55432/driftline).",
        epilog=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (db, migrate, serve, models, ingest, predictions, worker, analyze, analytics_jobs, monitors,
                   keys):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        ctx = CliContext.from_env(os.environ)
        return handler(args, ctx)
    except ValidationError as exc:
        n = len(exc.errors)
        fail(f"invalid input ({n} error{'s' if n != 1 else ''})")
        row_errors(exc.errors)
        return EXIT_INVALID
    except (SettingsError, UsageError) as exc:
        fail(str(exc))
        return EXIT_INVALID
    except NotFoundError as exc:
        fail(str(exc))
        return EXIT_NOT_FOUND
    except ConflictError as exc:
        fail(str(exc))
        return EXIT_CONFLICT
    except DriftlineError as exc:
        fail(str(exc))
        return EXIT_ERROR
    except asyncpg.UndefinedTableError as exc:
        fail(f"{exc} — is the database migrated? Run `driftline migrate`")
        return EXIT_ERROR
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        fail(f"database error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
