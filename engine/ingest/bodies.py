"""Decoding ingest bodies within limits: JSON (an array of rows, or `{"rows": [...]}`) and NDJSON here,
Arrow IPC and Parquet in `columnar`. Every limit is enforced before the rows are materialised: a body
is refused from its size, its row count, its nesting depth or (Arrow, Parquet) its declared decompressed size,
never after it was decoded into millions of Python objects.

JSON's shape is read by a vectorised pre-pass (`json_shape`) over the bytes: strings are masked out, then the
nesting depth and the number of top-level elements are counted chunk by chunk, so it costs a few bytes of
memory per input byte (in 1 MiB steps: ~30 MiB at most, whatever the body's size) and ~0.1 s per 50 MB, and
no Python object per row."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from engine.config import DecodeLimits
from engine.errors import BodyTooLargeError, MalformedBodyError, RowError, ValidationError

_decoder = msgspec.json.Decoder()
_CHUNK = 1 << 20  # bytes per step of the pre-pass: its temporaries (a few int64 arrays) stay ~30 MiB at most
_QUOTE, _OPEN_A, _CLOSE_A, _OPEN_O, _CLOSE_O, _COMMA = (ord(c) for c in '"[]{},')


def refuse(field: str, reason: str, row: int | None = None) -> MalformedBodyError:
    return MalformedBodyError([RowError(row, field, reason)])


def too_many_rows(n: int, limits: DecodeLimits) -> ValidationError:
    """The same answer (422) as a batch found too long after decoding, given before decoding."""
    return ValidationError([RowError(None, None, f"batch of {n} rows exceeds the limit of {limits.max_rows}; split it")])


def too_large(what: str, limits: DecodeLimits) -> BodyTooLargeError:
    return BodyTooLargeError([RowError(None, "body", f"{what} decodes to more than {limits.max_bytes} bytes "
                                       "(DRIFTLINE_MAX_DECODED_BYTES); split it")])


@dataclass(frozen=True, slots=True)
class JsonShape:
    rows: int  # elements of the outer array, or of `rows` in `{"rows": [...]}` (an upper bound when empty: 1)
    max_depth: int
    deepest_at: int  # byte offset where max_depth was first reached


def json_shape(body: bytes, stop_depth: int) -> JsonShape:
    """Nesting depth and the row count, from the bytes alone. Stops early (and says where) once `stop_depth`
    is exceeded. Escapes are removed first (`\\\\` pairs, then `\\"`), so every remaining quote delimits a
    string. Rows are counted as the commas at the rows' level plus one."""
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    rows_level = 1 if text.lstrip()[:1] == b"[" else 2
    in_string = False
    depth = 0
    max_depth = 0
    deepest_at = 0
    commas = 0
    for start in range(0, len(text), _CHUNK):
        b = np.frombuffer(text, dtype=np.uint8, count=min(_CHUNK, len(text) - start), offset=start)
        quotes = b == _QUOTE
        parity = np.bitwise_xor.accumulate(quotes.view(np.uint8)).view(bool)
        inside = parity != in_string  # a quote itself counts as inside (it opens) or as outside (it closes)
        outside = ~inside & ~quotes
        opens = ((b == _OPEN_A) | (b == _OPEN_O)) & outside
        closes = ((b == _CLOSE_A) | (b == _CLOSE_O)) & outside
        idx = np.flatnonzero(opens | closes)
        levels = depth + np.cumsum(np.where(opens[idx], 1, -1).astype(np.int64))
        if levels.size and int(levels.max()) > max_depth:
            max_depth = int(levels.max())
            deepest_at = start + int(idx[int(np.argmax(levels))])
            if max_depth > stop_depth:
                return JsonShape(0, max_depth, deepest_at)
        comma_pos = np.flatnonzero((b == _COMMA) & outside)
        if comma_pos.size:
            k = np.searchsorted(idx, comma_pos, side="left")
            level_at = np.where(k > 0, levels[np.maximum(k - 1, 0)] if levels.size else depth, depth)
            commas += int(np.count_nonzero(level_at == rows_level))
        if levels.size:
            depth = int(levels[-1])
        if b.size:
            in_string = bool(parity[-1]) != in_string
    return JsonShape(commas + 1, max_depth, deepest_at)


def _check_shape(body: bytes, limits: DecodeLimits, where: str) -> None:
    shape = json_shape(body, limits.max_depth)
    if shape.max_depth > limits.max_depth:
        raise refuse("body", f"{where}nested deeper than {limits.max_depth} levels (at byte {shape.deepest_at}); "
                     "a row is an object of numbers, strings, and objects or lists of them")
    if shape.rows > limits.max_rows:
        raise too_many_rows(shape.rows, limits)


def decode_json_rows(body: bytes, limits: DecodeLimits) -> list[Any]:
    if len(body) > limits.max_bytes:
        raise too_large("JSON body", limits)
    _check_shape(body, limits, "")
    try:
        data = _decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # invalid UTF-8 is a UnicodeDecodeError
        raise refuse("body", f"malformed JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("rows"), list) and len(data) == 1:
        data = data["rows"]
        if len(data) > limits.max_rows:
            raise too_many_rows(len(data), limits)
    if not isinstance(data, list):
        raise refuse("body", 'expected a JSON array of rows (or {"rows": [...]})')
    return data


def decode_ndjson_rows(body: bytes, limits: DecodeLimits) -> list[Any]:
    if len(body) > limits.max_bytes:
        raise too_large("NDJSON body", limits)
    if body.count(b"\n") + 1 > limits.max_rows:  # an upper bound; blank lines are counted in the exact check
        lines = sum(1 for line in io.BytesIO(body) if line.strip())  # one line at a time: no list of millions
        if lines > limits.max_rows:
            raise too_many_rows(lines, limits)
    rows: list[Any] = []
    line_limits = DecodeLimits(max_rows=1, max_bytes=limits.max_bytes, max_depth=limits.max_depth - 1)
    for lineno, line in enumerate(body.splitlines()):
        if not line.strip():
            continue
        shape = json_shape(line, line_limits.max_depth)
        if shape.max_depth > line_limits.max_depth:
            raise refuse("body", f"line {lineno + 1}: nested deeper than {line_limits.max_depth} levels",
                         row=len(rows))
        try:
            rows.append(_decoder.decode(line))
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise refuse("body", f"malformed JSON on line {lineno + 1}: {exc}", row=len(rows)) from exc
    return rows
