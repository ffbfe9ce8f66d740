"""Printing results and errors for people (and `--json` for scripts)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from engine.errors import RowError

MAX_PRINTED_ERRORS = 20


def emit_json(data: Any, out: TextIO = sys.stdout) -> None:
    out.write(json.dumps(data, indent=2, default=str) + "\n")


def table(rows: Sequence[Sequence[object]], header: Sequence[str], out: TextIO = sys.stdout) -> None:
    cells = [[str(c) for c in header], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def row_errors(errors: Sequence[RowError], total: int | None = None, out: TextIO = sys.stderr) -> None:
    """`row N, field: reason` lines for the first MAX_PRINTED_ERRORS errors, then how many more."""
    total = len(errors) if total is None else total
    for e in errors[:MAX_PRINTED_ERRORS]:
        where = f"row {e.row}, {e.field or '-'}" if e.row is not None else (e.field or "input")
        out.write(f"  {where}: {e.reason}\n")
    if total > MAX_PRINTED_ERRORS:
        out.write(f"  … and {total - MAX_PRINTED_ERRORS} more ({total} errors in all)\n")


def fail(message: str, out: TextIO = sys.stderr) -> None:
    out.write(f"driftline: error: {message}\n")
