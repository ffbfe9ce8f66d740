"""Ingest request bodies by content type (`engine.ingest.decode`: JSON, NDJSON, Arrow IPC, Parquet). Decoding
here runs in a worker thread; large prediction bodies are decoded and validated in worker processes instead
(`engine.ingest.offload`, through `IngestService.log_prediction_body`)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import polars as pl

from engine.config import DecodeLimits
from engine.ingest.decode import (
    ARROW_TYPES,
    INGEST_TYPES,
    JSON_TYPES,
    NDJSON_TYPES,
    PARQUET_TYPES,
    decode_rows,
    media_type,
)

__all__ = ["ARROW_TYPES", "INGEST_TYPES", "JSON_TYPES", "NDJSON_TYPES", "PARQUET_TYPES", "decode_rows",
           "decode_rows_off_loop", "media_type"]


async def decode_rows_off_loop(body: bytes, content_type: str | None, limits: DecodeLimits) -> list[Any] | pl.DataFrame:
    return await anyio.to_thread.run_sync(decode_rows, body, content_type, limits)
