"""Named SQL statements kept in `sql/`.

`sql/queries/*.sql` files hold statements separated by `-- name: <name>` lines; statements are looked up
by `<file stem>.<name>`. `sql/schema/` holds the SQL files migrations run (frozen, see sql/README.md) and
the templates `engine.windows.ddl` renders the newest revision's files from.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_NAME = re.compile(r"^--\s*name:\s*([a-z0-9_]+)\s*$", re.MULTILINE)


@functools.cache
def _load(stem: str) -> dict[str, str]:
    text = (SQL_DIR / "queries" / f"{stem}.sql").read_text()
    parts = _NAME.split(text)
    statements: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        statements[name] = body.strip().rstrip(";")
    return statements


def query(qualified_name: str) -> str:
    """The statement `file.name` from sql/queries/file.sql."""
    stem, _, name = qualified_name.partition(".")
    statements = _load(stem)
    try:
        return statements[name]
    except KeyError:
        raise KeyError(f"no statement {name!r} in sql/queries/{stem}.sql; known: {sorted(statements)}") from None
