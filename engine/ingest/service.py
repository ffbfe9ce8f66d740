"""The one ingest service behind every entry point (REST, SDK, CLI).

Atomic by default: any invalid row refuses the whole batch and nothing is written. `partial=True` writes the
valid rows and keeps every refused row, with its reason, in `rejected_rows`; the result says so.
Idempotent: predictions by (model, prediction_id, time) — a batch sent twice is stored once; any batch
(predictions, labels, metrics) may also carry an idempotency key, and a batch with a key already seen is
answered from the stored result without writing anything.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import polars as pl

from engine.config import DecodeLimits
from engine.domain import ModelSpec
from engine.errors import NotFoundError, RowError, ValidationError
from engine.ingest import labels as label_rows
from engine.ingest import metrics as metric_rows
from engine.ingest.copy_binary import prediction_copy_chunks
from engine.ingest.decode import decode_rows
from engine.ingest.label_writes import apply_labels
from engine.ingest.offload import (
    DecodePool,
    PredictionJob,
    PreparedPredictions,
    Refusal,
    prepare_prediction_body,
    shared_body,
)
from engine.ingest.prepare import (
    MAX_REJECTED_PAYLOAD_CHARS,
    MAX_REPORTED_ERRORS,
    batch_digest,
    check_size,
    decide,
    prepare_predictions,
    undeclared_segment_warnings,
    writable_rows,
)
from engine.ingest.prepare import payload as _payload
from engine.ingest.records import METRIC_COLUMNS, PREDICTION_COLUMNS
from engine.ingest.text import frame_nul_errors, unstorable_errors
from engine.store import models_repo
from engine.store.sqlfiles import query
from engine.store.unit import UnitOfWork

__all__ = ["MAX_REJECTED_PAYLOAD_CHARS", "MAX_REPORTED_ERRORS", "IngestResult", "IngestService", "batch_digest"]

Kind = Literal["predictions", "labels", "metrics"]
# A refused row is kept once, with at most this many of its errors (and MAX_REJECTED_PAYLOAD_CHARS of it).
MAX_ERRORS_PER_REJECTED_ROW = 50


@dataclass(frozen=True, slots=True)
class IngestResult:
    kind: Kind
    received: int
    written: int  # rows stored (predictions, metrics) or labelled (labels)
    duplicates: int = 0  # predictions already stored under the same id and time
    rejected: int = 0  # rows refused (partial mode) and kept in rejected_rows
    errors: tuple[RowError, ...] = ()
    error_count: int = 0
    replayed: bool = False  # answered from an earlier batch with the same idempotency key
    # stored, but worth knowing (row None, e.g. a segment key that is not a declared dimension)
    warnings: tuple[RowError, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "received": self.received,
            "written": self.written,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [e.to_dict() for e in self.errors],
            "error_count": self.error_count,
            "replayed": self.replayed,
            "warnings": [w.to_dict() for w in self.warnings],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestResult:
        return cls(
            kind=data["kind"],
            received=data["received"],
            written=data["written"],
            duplicates=data["duplicates"],
            rejected=data["rejected"],
            errors=tuple(RowError(e["row"], e["field"], e["reason"]) for e in data["errors"]),
            error_count=data["error_count"],
            replayed=True,
            warnings=tuple(RowError(w["row"], w["field"], w["reason"]) for w in data.get("warnings", ())),
        )


@dataclass(slots=True)
class _Checked:
    """A batch after validation: the rows to write, and what was refused."""

    received: int
    errors: list[RowError] = field(default_factory=list)

    def bad_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors if e.row is not None})


def _unknown_reason(item: Any) -> str:
    if item.get("time"):
        return "no stored prediction with this id and time"
    return ("no stored prediction with this id within the label horizon (DRIFTLINE_LABEL_HORIZON); for an "
            "older prediction, send its time")


async def _stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    """Chunks are encoded in a worker thread, one ahead of the chunk being sent: the encoders are numpy,
    polars and pyarrow calls that release the GIL, so encoding overlaps both the socket writes and the
    server's storing of what was already sent."""
    loop = asyncio.get_running_loop()
    it = iter(chunks)
    done = object()
    pending = loop.run_in_executor(None, next, it, done)
    while True:
        chunk = await pending
        if chunk is done:
            return
        pending = loop.run_in_executor(None, next, it, done)
        yield chunk  # type: ignore[misc]


class IngestService:
    def __init__(self, uow: UnitOfWork, max_batch_rows: int = 100_000, offload: DecodePool | None = None) -> None:
        self.conn = uow.conn
        self.max_batch_rows = max_batch_rows
        self.offload = offload

    def _check_size(self, n: int) -> None:
        check_size(n, self.max_batch_rows)

    _decide = staticmethod(decide)

    async def log_predictions(
        self,
        model_name: str,
        rows: Sequence[Any] | pl.DataFrame,
        version: str | None = None,
        partial: bool = False,
        idempotency_key: str | None = None,
        segment_columns: Sequence[str] = (),
    ) -> IngestResult:
        """Validate and store predictions given as JSON-shaped dicts or as a DataFrame."""
        model = await models_repo.get_model(self.conn, model_name)
        ver = await models_repo.get_version(self.conn, model, version)
        is_frame = isinstance(rows, pl.DataFrame)
        n = rows.height if isinstance(rows, pl.DataFrame) else len(rows)
        self._check_size(n)
        frame, errors = await asyncio.to_thread(prepare_predictions, model, rows, segment_columns, partial)
        self._decide(errors, partial)

        def payload(i: int) -> str:
            item = rows.row(i, named=True) if is_frame else rows[i]  # type: ignore[union-attr]
            return _payload(item)

        checked = _Checked(received=n, errors=errors)
        good = writable_rows(frame, checked.bad_rows())
        received_at = datetime.now(UTC)

        def copy_data() -> Iterable[bytes]:
            return prediction_copy_chunks(model, ver.id, good, received_at)

        return await self._store_predictions(model, checked, copy_data, good.height,
                                             undeclared_segment_warnings(model, good), idempotency_key, payload,
                                             lambda: batch_digest(rows, ver.version, partial, segment_columns))

    async def log_prediction_body(
        self,
        model_name: str,
        body: bytes,
        content_type: str | None,
        limits: DecodeLimits,
        version: str | None = None,
        partial: bool = False,
        idempotency_key: str | None = None,
        segment_columns: Sequence[str] = (),
    ) -> IngestResult:
        """`log_predictions` of a request body. A large body (see `engine.ingest.offload`) is decoded,
        validated and encoded for COPY in a worker process, with the same answers, in the same order: a
        malformed body, then an unknown model or version, then the batch's size, then its rows."""
        pool = self.offload
        if pool is None or not pool.wants(body, content_type):
            rows = await asyncio.to_thread(decode_rows, body, content_type, limits)
            return await self.log_predictions(model_name, rows, version=version, partial=partial,
                                              idempotency_key=idempotency_key, segment_columns=segment_columns)
        try:
            model = await models_repo.get_model(self.conn, model_name)
            ver = await models_repo.get_version(self.conn, model, version)
        except NotFoundError:
            async with shared_body(body) as shared:
                decoded = await pool.run(prepare_prediction_body, PredictionJob(shared, content_type, limits, None))
            if isinstance(decoded, Refusal):
                raise decoded.exception() from None
            raise
        async with shared_body(body) as shared:
            job = PredictionJob(shared, content_type, limits, model, self.max_batch_rows, ver.version, partial,
                                tuple(segment_columns), want_digest=idempotency_key is not None, version_id=ver.id,
                                received_at=datetime.now(UTC))
            out = await pool.run(prepare_prediction_body, job)
        if not isinstance(out, PreparedPredictions):
            raise out.exception() if out is not None else RuntimeError("the decode worker returned nothing")
        digest = out.digest or ""
        return await self._store_predictions(model, _Checked(received=out.received, errors=out.errors),
                                             lambda: iter(out.copy_chunks), out.written, out.warnings,
                                             idempotency_key, out.payloads.__getitem__, lambda: digest)

    async def _store_predictions(
        self, model: ModelSpec, checked: _Checked, copy_data: Callable[[], Iterable[bytes]], n_good: int,
        warnings: tuple[RowError, ...], idempotency_key: str | None, payload: Callable[[int], str],
        digest: Callable[[], str],
    ) -> IngestResult:
        """Write a checked batch in one transaction: its valid rows (binary COPY data from `copy_data()`),
        the refused ones to rejected_rows, and the idempotency key."""
        conn = self.conn
        async with conn.transaction():
            replay = await self._claim_key(conn, idempotency_key, "predictions", model.id, digest)
            if replay is not None:
                return replay
            written, duplicates = await self._write_predictions(conn, copy_data, n_good)
            await self._reject(conn, "predictions", model.id, idempotency_key, checked, payload)
            result = replace(self._result("predictions", checked, written, duplicates), warnings=warnings)
            await self._store_key(conn, idempotency_key, result)
        return result

    async def _write_predictions(
        self, conn: asyncpg.Connection, copy_data: Callable[[], Iterable[bytes]], n: int
    ) -> tuple[int, int]:
        """COPY the batch (binary COPY data from `copy_data()`, see copy_binary); returns (written, duplicates)."""
        if n == 0:
            return 0, 0
        try:
            # Fast path: straight binary COPY into the hypertable. A savepoint, so that a batch containing
            # already-stored ids can fall back to the de-duplicating path in the same transaction.
            async with conn.transaction():
                await conn.copy_to_table("predictions", source=_stream(copy_data()), columns=PREDICTION_COLUMNS,
                                         format="binary")
            return n, 0
        except asyncpg.UniqueViolationError:
            pass
        await conn.execute(query("ingest.create_predictions_stage"))
        await conn.execute("TRUNCATE predictions_stage")
        await conn.copy_to_table("predictions_stage", source=_stream(copy_data()), columns=PREDICTION_COLUMNS,
                                 format="binary")
        inserted: int = await conn.fetchval(query("ingest.insert_predictions_from_stage"))
        return inserted, n - inserted

    async def log_labels(
        self,
        model_name: str,
        rows: Sequence[Any] | pl.DataFrame,
        partial: bool = False,
        idempotency_key: str | None = None,
    ) -> IngestResult:
        """Attach ground truth to stored predictions by prediction id (and the prediction's `time`, when the
        row has one). A label for an id that is not stored (or, without `time`, stored longer ago than the
        label horizon) is an error for that row (atomic: the batch is refused; partial: it is kept in
        rejected_rows). Compressed history is labelled in place: see engine/ingest/label_writes.py."""
        conn = self.conn
        model = await models_repo.get_model(conn, model_name)
        n = rows.height if isinstance(rows, pl.DataFrame) else len(rows)
        self._check_size(n)
        items = rows.to_dicts() if isinstance(rows, pl.DataFrame) else rows
        unstorable = frame_nul_errors(rows) if isinstance(rows, pl.DataFrame) else unstorable_errors(items)
        if unstorable:  # refused before the records are built: a refused row is never staged
            self._decide(unstorable, partial)
            bad = {e.row for e in unstorable}
            records, errors = label_rows.label_records(model, [{} if i in bad else r for i, r in enumerate(items)],
                                                       datetime.now(UTC))
            errors = sorted([e for e in errors if e.row not in bad] + unstorable,
                            key=lambda e: e.row if e.row is not None else -1)
        else:
            records, errors = label_rows.label_records(model, items, datetime.now(UTC))
        self._decide(errors, partial)
        checked = _Checked(received=n, errors=errors)
        async with conn.transaction():
            replay = await self._claim_key(conn, idempotency_key, "labels", model.id,
                                           lambda: batch_digest(rows, None, partial, ()))
            if replay is not None:
                return replay
            matched = await apply_labels(conn, model.id, records)
            unknown = [int(rec[0]) for rec in records if rec[0] not in matched]  # type: ignore[call-overload]
            if unknown:
                checked.errors.extend(RowError(i, "prediction_id", _unknown_reason(items[i])) for i in unknown)
                checked.errors.sort(key=lambda e: e.row if e.row is not None else -1)
                if not partial:
                    raise ValidationError(checked.errors)
            await self._reject(conn, "labels", model.id, idempotency_key, checked, lambda i: _payload(items[i]))
            result = self._result("labels", checked, len(matched), 0)
            await self._store_key(conn, idempotency_key, result)
        return result

    async def log_metrics(
        self,
        rows: Sequence[Any] | pl.DataFrame,
        model_name: str | None = None,
        partial: bool = False,
        idempotency_key: str | None = None,
    ) -> IngestResult:
        """Store named custom metrics (cost, resource use, business KPIs), optionally tied to a model."""
        conn = self.conn
        model: ModelSpec | None = await models_repo.get_model(conn, model_name) if model_name else None
        n = rows.height if isinstance(rows, pl.DataFrame) else len(rows)
        self._check_size(n)
        items = rows.to_dicts() if isinstance(rows, pl.DataFrame) else rows
        model_id = model.id if model else None
        unstorable = frame_nul_errors(rows) if isinstance(rows, pl.DataFrame) else unstorable_errors(items)
        records, errors = await asyncio.to_thread(metric_rows.metric_records, items, model_id,
                                                  {e.row for e in unstorable})
        errors = sorted(errors + unstorable, key=lambda e: e.row if e.row is not None else -1)
        self._decide(errors, partial)
        checked = _Checked(received=n, errors=errors)
        async with conn.transaction():
            replay = await self._claim_key(conn, idempotency_key, "metrics", model_id,
                                           lambda: batch_digest(rows, None, partial, ()))
            if replay is not None:
                return replay
            if records:
                await conn.copy_records_to_table("metrics", records=records, columns=METRIC_COLUMNS)
            await self._reject(conn, "metrics", model_id, idempotency_key, checked, lambda i: _payload(items[i]))
            result = self._result("metrics", checked, len(records), 0)
            await self._store_key(conn, idempotency_key, result)
        return result

    @staticmethod
    def _result(kind: Kind, checked: _Checked, written: int, duplicates: int) -> IngestResult:
        return IngestResult(
            kind=kind,
            received=checked.received,
            written=written,
            duplicates=duplicates,
            rejected=len(checked.bad_rows()),
            errors=tuple(checked.errors[:MAX_REPORTED_ERRORS]),
            error_count=len(checked.errors),
        )

    @staticmethod
    async def _claim_key(
        conn: asyncpg.Connection, key: str | None, kind: Kind, model_id: int | None, digest: Callable[[], str]
    ) -> IngestResult | None:
        """Claim an idempotency key inside the batch's transaction. A concurrent batch with the same key
        waits on the primary key until this one commits, then sees it as already done. A key seen before
        with different content is refused (the client reused a key by mistake), never answered with the
        other batch's result."""
        if key is None:
            return None
        content = digest()
        if await conn.fetchval(query("ingest.insert_batch_key"), key, kind, model_id, content) is not None:
            return None
        row = await conn.fetchrow(query("ingest.select_batch_result"), key)
        if row["kind"] != kind or row["model_id"] != model_id or row["digest"] != content:
            raise ValidationError([RowError(None, "idempotency_key", "key already used for a different batch")])
        return IngestResult.from_dict(json.loads(row["result"]))

    @staticmethod
    async def _store_key(conn: asyncpg.Connection, key: str | None, result: IngestResult) -> None:
        if key is not None:
            await conn.execute(query("ingest.update_batch_result"), key, json.dumps(result.to_dict()))

    @staticmethod
    async def _reject(
        conn: asyncpg.Connection, kind: Kind, model_id: int | None, key: str | None, checked: _Checked, payload: Any
    ) -> None:
        by_row: dict[int, list[RowError]] = {}
        for e in checked.errors:
            if e.row is not None:
                by_row.setdefault(e.row, []).append(e)
        if not by_row:
            return
        rows = sorted(by_row)
        firsts = [by_row[i][0] for i in rows]
        await conn.execute(
            query("ingest.insert_rejected"), kind, model_id, key, rows,
            [_clean(e.field) for e in firsts],
            [str(_clean(e.reason)) + (f" (and {len(by_row[i]) - 1} more)" if len(by_row[i]) > 1 else "")
             for e, i in zip(firsts, rows, strict=True)],
            [payload(i) for i in rows],
            [json.dumps([{"field": _clean(e.field), "reason": _clean(e.reason)}
                         for e in by_row[i][:MAX_ERRORS_PER_REJECTED_ROW]]) for i in rows],
        )


def _clean(text: str | None) -> str | None:
    """Field names and reasons echo user input: make them storable text, and short."""
    return None if text is None else text.replace("\x00", "\\u0000")[:500]
