"""What a revision needs besides Alembic: the TimescaleDB edition of the database, the committed SQL files
under `sql/schema/`, and the deployment parameters that legitimately differ per install.

Revisions import only this module, alembic, sqlalchemy and the standard library, never `engine` or `api`:
what an old revision does must not change when the engine does (tests/store/test_frozen_migrations.py
checks the imports). So this module is frozen in behaviour too: extend it, never change what an existing
call returns or runs.

The parameters are read from the same environment variables, with the same defaults and the same
validation, as `engine.config.StoreSettings` (a test keeps the two equal).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "sql" / "schema"
Edition = Literal["apache", "timescale"]
_INTERVAL = re.compile(r"^\s*\d+\s*(second|minute|hour|day|week|month)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class StoreLayout:
    """Physical layout of the raw hypertables: chunk interval, compression age and retention (both None
    when switched off)."""

    chunk_interval: str
    compress_after: str | None
    retention: str | None


def _interval(env: Mapping[str, str], key: str, default: str | None) -> str | None:
    value = env.get(key, default)
    if value is None or value == "" or value.lower() == "none":
        return None
    if not _INTERVAL.match(value):
        raise ValueError(f"{key}={value!r} is not an interval like '1 day' or '12 hours'")
    return value.strip()


def store_layout(env: Mapping[str, str] | None = None) -> StoreLayout:
    """DRIFTLINE_CHUNK_INTERVAL (default 1 day), DRIFTLINE_COMPRESS_AFTER (7 days; "none" turns it off),
    DRIFTLINE_RETENTION (none), read when the migration runs."""
    env = os.environ if env is None else env
    return StoreLayout(
        chunk_interval=_interval(env, "DRIFTLINE_CHUNK_INTERVAL", "1 day") or "1 day",
        compress_after=_interval(env, "DRIFTLINE_COMPRESS_AFTER", "7 days"),
        retention=_interval(env, "DRIFTLINE_RETENTION", None),
    )


def edition(bind: Connection) -> Edition:
    """The TimescaleDB edition behind the migration's connection: 'timescale' (full) or 'apache'."""
    value = bind.exec_driver_sql("SELECT current_setting('timescaledb.license', true)").scalar()
    return "timescale" if value == "timescale" else "apache"


def run_file(bind: Connection, filename: str, **params: str) -> None:
    """Run `sql/schema/<filename>` on the migration's connection, `{name}` placeholders replaced by
    `params` (deployment parameters only: everything else in the file is fixed text).

    The file runs as one script: SQLAlchemy's asyncpg dialect prepares every statement, and a prepared
    statement holds one command; asyncpg's own `execute` without arguments uses the simple query protocol,
    which takes a whole script."""
    from sqlalchemy.util import await_only

    text = (SCHEMA_DIR / filename).read_text()
    for key, value in params.items():
        placeholder = "{" + key + "}"
        if placeholder not in text:
            raise ValueError(f"{filename} has no placeholder {placeholder}")
        text = text.replace(placeholder, value)
    raw = bind.connection.driver_connection
    assert raw is not None, "the Alembic connection has no driver connection"
    await_only(raw.execute(text))
