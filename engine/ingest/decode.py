"""Ingest request bodies by content type: JSON (an array of rows, or an object with a `rows` array), NDJSON,
Arrow IPC (stream or file) and Parquet, decoded within limits (`bodies`, `columnar`). Malformed bodies are
refused with the position of the problem. Pure CPU and picklable, so a worker process can run it
(`engine.ingest.offload`)."""

from __future__ import annotations

from typing import Any

import polars as pl

from engine.config import DecodeLimits
from engine.ingest.bodies import decode_json_rows, decode_ndjson_rows, refuse
from engine.ingest.columnar import decode_arrow, decode_parquet

JSON_TYPES = ("application/json",)
ARROW_TYPES = ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/ndjson")
INGEST_TYPES = JSON_TYPES + NDJSON_TYPES + ARROW_TYPES + PARQUET_TYPES


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def decode_rows(body: bytes, content_type: str | None, limits: DecodeLimits) -> list[Any] | pl.DataFrame:
    ctype = media_type(content_type)
    if ctype not in INGEST_TYPES:
        raise refuse("content-type", f"unsupported content type {ctype or '(none)'!r}; use "
                     f"{', '.join(INGEST_TYPES)}")
    if not body.strip():
        raise refuse("body", "empty request body; send the rows (a JSON array, NDJSON, Arrow IPC or Parquet)")
    if ctype in ARROW_TYPES:
        return decode_arrow(body, limits, stream=ctype.endswith("stream"))
    if ctype in PARQUET_TYPES:
        return decode_parquet(body, limits)
    if ctype in NDJSON_TYPES:
        return decode_ndjson_rows(body, limits)
    return decode_json_rows(body, limits)
