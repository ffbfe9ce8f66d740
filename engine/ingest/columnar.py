"""Arrow IPC and Parquet bodies, decoded within limits (rows, decoded bytes) that are checked *before* the
data is decompressed or expanded:

- Arrow IPC: every message's flatbuffer header is read first (`_batch_sizes`): a record or dictionary batch
  declares its row count and each buffer's length, and a compressed buffer starts with its decompressed
  length (Arrow checks it when it decompresses). A stream must end with the end-of-stream marker, so a
  stream cut at a batch boundary is refused rather than taken as complete.
- Parquet: the footer declares rows and, per column chunk, the number of values and the uncompressed size:
  fixed-width values cost their width, the rest their uncompressed size. Strings are read dictionary-encoded.
- Both: dictionary (categorical) columns are measured as they would be once expanded, from the dictionary's
  value lengths gathered by the indices, before anything expands them.
"""

from __future__ import annotations

import io
import struct

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from engine.config import DecodeLimits
from engine.ingest.bodies import refuse, too_large, too_many_rows

EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_RECORD_BATCH, _DICTIONARY_BATCH = 3, 2


class _Table:
    """Just enough of a flatbuffer table reader for Arrow's Message header."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vsize = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, i: int) -> int:
        at = 4 + 2 * i
        return struct.unpack_from("<H", self.buf, self.vtable + at)[0] if at < self.vsize else 0

    def scalar(self, i: int, fmt: str, default: int = 0) -> int:
        off = self._field(i)
        return struct.unpack_from(fmt, self.buf, self.pos + off)[0] if off else default

    def table(self, i: int) -> _Table | None:
        off = self._field(i)
        if not off:
            return None
        at = self.pos + off
        return _Table(self.buf, at + struct.unpack_from("<I", self.buf, at)[0])

    def structs(self, i: int, size: int) -> list[bytes]:
        off = self._field(i)
        if not off:
            return []
        at = self.pos + off
        vec = at + struct.unpack_from("<I", self.buf, at)[0]
        n = struct.unpack_from("<I", self.buf, vec)[0]
        return [self.buf[vec + 4 + k * size: vec + 4 + (k + 1) * size] for k in range(n)]


def _batch_sizes(metadata: bytes, body: bytes) -> tuple[int, int]:
    """(rows, decoded bytes) a record or dictionary batch declares; (0, 0) for other messages."""
    msg = _Table(metadata, struct.unpack_from("<I", metadata, 0)[0])
    kind = msg.scalar(1, "<B")
    header = msg.table(2)
    if header is None or kind not in (_RECORD_BATCH, _DICTIONARY_BATCH):
        return 0, 0
    batch = header if kind == _RECORD_BATCH else header.table(1)
    if batch is None:
        return 0, 0
    rows = batch.scalar(0, "<q")
    compressed = batch.table(3) is not None
    decoded = 0
    for raw in batch.structs(2, 16):
        offset, length = struct.unpack("<qq", raw)
        if length <= 0:
            continue
        if compressed and length >= 8:
            declared = struct.unpack_from("<q", body, offset)[0] if offset + 8 <= len(body) else -1
            decoded += length - 8 if declared == -1 else declared
        else:
            decoded += length
    return (rows if kind == _RECORD_BATCH else 0), decoded


def _check_messages(source: pa.BufferReader, limits: DecodeLimits, what: str) -> int:
    """Walk the messages from the reader's position to the end-of-stream marker; returns where it ended."""
    reader = ipc.MessageReader.open_stream(source)
    rows = decoded = 0
    while True:
        before = source.tell()
        try:
            message = reader.read_next_message()
        except StopIteration:
            return before
        except (pa.ArrowInvalid, OSError) as exc:
            raise refuse("body", f"not a valid {what}: {str(exc)[:200]}") from exc
        body = message.body.to_pybytes() if message.body is not None else b""
        try:
            r, d = _batch_sizes(message.metadata.to_pybytes(), body)
        except struct.error as exc:
            raise refuse("body", f"not a valid {what}: corrupt message header") from exc
        rows, decoded = rows + r, decoded + d
        _check_totals(rows, decoded, limits, what)


def _check_file_blocks(body: bytes, limits: DecodeLimits, what: str) -> None:
    """An Arrow IPC file: the footer lists every dictionary and record batch block; each is checked as above."""
    if len(body) < 18 or body[:6] != b"ARROW1" or body[-6:] != b"ARROW1":
        raise refuse("body", f"not a valid {what}: missing the ARROW1 magic")
    try:
        size = struct.unpack_from("<i", body, len(body) - 10)[0]
        start = len(body) - 10 - size
        if size <= 0 or start < 8:
            raise struct.error("footer size")
        footer_buf = body[start:len(body) - 10]
        footer = _Table(footer_buf, struct.unpack_from("<I", footer_buf, 0)[0])
        blocks = footer.structs(2, 24) + footer.structs(3, 24)
        rows = decoded = 0
        for raw in blocks:
            offset, meta_len, _, body_len = struct.unpack("<qiiq", raw)
            if offset < 8 or meta_len < 0 or body_len < 0 or offset + meta_len + body_len > start:
                raise struct.error("block out of range")
            message = ipc.read_message(pa.BufferReader(body[offset:offset + meta_len + body_len]))
            r, d = _batch_sizes(message.metadata.to_pybytes(), message.body.to_pybytes() if message.body else b"")
            rows, decoded = rows + r, decoded + d
    except (struct.error, pa.ArrowInvalid, OSError) as exc:
        raise refuse("body", f"not a valid {what}: corrupt footer or block") from exc
    _check_totals(rows, decoded, limits, what)


def _check_totals(rows: int, decoded: int, limits: DecodeLimits, what: str) -> None:
    if rows > limits.max_rows:
        raise too_many_rows(rows, limits)
    if decoded > limits.max_bytes:
        raise too_large(what, limits)


def _check_expansion(frame: pl.DataFrame, limits: DecodeLimits, what: str) -> pl.DataFrame:
    """Dictionary-encoded columns, measured as their expanded strings would be."""
    size = 0
    for s in frame.get_columns():
        if isinstance(s.dtype, pl.Categorical | pl.Enum):
            size += int(s.cat.len_bytes().sum() or 0)  # from the categories, gathered: nothing expands
        else:
            size += int(s.estimated_size())
    if size > limits.max_bytes:
        raise too_large(what, limits)
    return frame


def decode_arrow(body: bytes, limits: DecodeLimits, stream: bool) -> pl.DataFrame:
    what = "Arrow IPC stream" if stream else "Arrow IPC file"
    if stream:
        end = _check_messages(pa.BufferReader(body), limits, what)
        if body[end:] != EOS:
            raise refuse("body", f"{what} without its end-of-stream marker (truncated?): the last message must be "
                         "followed by 0xFFFFFFFF 0x00000000")
    else:
        _check_file_blocks(body, limits, what)
    try:
        frame = pl.read_ipc_stream(io.BytesIO(body)) if stream else pl.read_ipc(io.BytesIO(body))
    except Exception as exc:  # polars/arrow raise many kinds of errors for a corrupt body
        raise refuse("body", f"not a valid {what}: {str(exc)[:200]}") from exc
    return _check_expansion(frame, limits, what)


_FIXED_WIDTH = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}


def decode_parquet(body: bytes, limits: DecodeLimits) -> pl.DataFrame:
    what = "Parquet body"
    try:
        pf = pq.ParquetFile(pa.BufferReader(body))
        meta = pf.metadata
        if meta.num_rows > limits.max_rows:
            raise too_many_rows(meta.num_rows, limits)
        declared = 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                col = group.column(c)
                width = _FIXED_WIDTH.get(col.physical_type)
                declared += col.num_values * width if width else col.total_uncompressed_size
        if declared > limits.max_bytes:
            raise too_large(what, limits)
        strings = [f.name for f in pf.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        table = pq.read_table(pa.BufferReader(body), read_dictionary=strings)
        frame = pl.from_arrow(table)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise refuse("body", f"not a valid {what}: {str(exc)[:200]}") from exc
    assert isinstance(frame, pl.DataFrame)
    return _check_expansion(frame, limits, what)
