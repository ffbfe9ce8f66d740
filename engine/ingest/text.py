"""Values PostgreSQL cannot store, caught at the ingest edge with their row and field instead of failing the
batch's COPY with a server error: NUL characters (text and jsonb refuse U+0000) and integers too large
for a float or a bigint. Also the copy of a refused row kept in `rejected_rows`, made storable and capped."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
import polars as pl

from engine.errors import RowError

NUL_REASON = "NUL character (\\u0000) is not allowed in text"
INT_LIMIT = 2**63  # bigint range; a float holds these to 1e308, but nothing real needs more
INT_REASON = "integer out of range (|n| must be < 2^63)"
_encoder = msgspec.json.Encoder()
_LONG_DIGITS = re.compile(rb"\d{19,}")


def big_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not -INT_LIMIT < value < INT_LIMIT


def _walk(value: object, path: str, out: list[tuple[str, str]], depth: int = 0) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            out.append((path, NUL_REASON))
    elif isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            sub = key if not path else f"{path}.{key}"
            if "\x00" in key:
                out.append((path or "(key)", NUL_REASON + " (in a key)"))
                continue
            _walk(v, sub, out, depth + 1)
    elif isinstance(value, list | tuple) and depth < 4:
        for v in value:
            _walk(v, path, out, depth + 1)
    elif big_int(value):
        out.append((path, INT_REASON))


def unstorable_errors(rows: Sequence[Any]) -> list[RowError]:
    """NUL characters and huge integers in JSON-shaped rows, one error per (row, field). The common case (none
    at all) costs one C-level encode and two byte searches."""
    try:
        encoded = _encoder.encode(rows)
        suspicious = b"\\u0000" in encoded
    except (TypeError, ValueError, OverflowError):
        suspicious = True
    else:
        # a run of 19+ digits is the only way to spell an integer beyond 2^63 (a false alarm costs a walk)
        suspicious = suspicious or _LONG_DIGITS.search(encoded) is not None
    if not suspicious:
        return []
    errors: list[RowError] = []
    for i, row in enumerate(rows):
        found: list[tuple[str, str]] = []
        _walk(row, "", found)
        errors.extend(RowError(i, field or None, reason) for field, reason in dict.fromkeys(found))
    return errors


def frame_nul_errors(frame: pl.DataFrame) -> list[RowError]:
    """NUL characters in the string columns of a frame (Arrow / Parquet / DataFrame input)."""
    errors: list[RowError] = []
    for name, dtype in frame.schema.items():
        if dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, pl.Enum):
            s = frame.get_column(name).cast(pl.Utf8)
            hits = s.str.contains("\x00", literal=True).fill_null(False)
            if hits.any():
                errors.extend(RowError(int(i), name, NUL_REASON) for i in hits.arg_true().to_list())
    return errors


def storable(value: object, depth: int = 0) -> object:
    """A copy of a JSON-shaped value that PostgreSQL's jsonb accepts: NUL shown as '\\u0000' text."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, dict):
        return {storable(k): storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v, depth + 1) for v in value]
    if big_int(value):
        return str(value)
    return value
