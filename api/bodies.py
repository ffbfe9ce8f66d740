"""Decoding ingest request bodies: JSON (an array of rows, or an object with a `rows` array), NDJSON,
Arrow IPC stream and Parquet. Malformed bodies are refused with the position of the problem."""

from __future__ import annotations

import io
from typing import Any

import msgspec
import polars as pl

from engine.errors import MalformedBodyError, RowError

ARROW_TYPES = ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/ndjson")
_decoder = msgspec.json.Decoder()


def decode_rows(body: bytes, content_type: str) -> list[Any] | pl.DataFrame:
    ctype = content_type.split(";")[0].strip().lower()
    if not body.strip():
        raise MalformedBodyError([RowError(None, "body", "empty request body; send the rows (a JSON array, NDJSON, "
                                           "Arrow IPC or Parquet)")])
    if ctype in ARROW_TYPES:
        try:
            return pl.read_ipc_stream(io.BytesIO(body)) if ctype.endswith("stream") else pl.read_ipc(io.BytesIO(body))
        except Exception as exc:  # polars/arrow raise many kinds of errors for a corrupt body
            raise MalformedBodyError([RowError(None, "body", f"not a valid Arrow IPC body: {str(exc)[:200]}")]) from exc
    if ctype in PARQUET_TYPES:
        try:
            return pl.read_parquet(io.BytesIO(body))
        except Exception as exc:
            raise MalformedBodyError([RowError(None, "body", f"not a valid Parquet body: {str(exc)[:200]}")]) from exc
    if ctype in NDJSON_TYPES:
        rows: list[Any] = []
        for lineno, line in enumerate(body.splitlines()):
            if line.strip():
                try:
                    rows.append(_decoder.decode(line))
                except msgspec.DecodeError as exc:
                    raise MalformedBodyError([RowError(len(rows), "body", f"malformed JSON on line {lineno + 1}: {exc}")]) from exc
        return rows
    if ctype not in ("application/json", "", "text/json"):
        raise MalformedBodyError([RowError(None, "content-type", f"unsupported content type {ctype!r}; use "
                                        "application/json, application/x-ndjson, "
                                        f"{ARROW_TYPES[0]} or {PARQUET_TYPES[0]}")])
    try:
        data = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedBodyError([RowError(None, "body", f"malformed JSON: {exc}")]) from exc
    if isinstance(data, dict) and isinstance(data.get("rows"), list) and len(data) == 1:
        data = data["rows"]
    if not isinstance(data, list):
        raise MalformedBodyError([RowError(None, "body", "expected a JSON array of rows (or {\"rows\": [...]})")])
    return data
