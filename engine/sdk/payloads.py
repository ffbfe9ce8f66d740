"""Caller input → request bodies, one per batch.

Accepted input: an iterable of dicts (sent as JSON), a polars DataFrame or LazyFrame, or a pandas DataFrame
(converted to polars; its index is ignored). Frames travel as Arrow IPC stream bodies, which keep dtypes
(timezone-aware datetimes, nulls, lists) exactly and cost the server no per-row parsing.

JSON has no NaN or infinity. Rather than letting them turn into `null` on the wire (a silent change of
meaning), dict rows holding a non-finite float are refused here, naming the row and field — except NaN
inside `features`, which driftline defines as "missing" and which is therefore sent as null.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import polars as pl

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON = "application/json"
DEFAULT_BATCH_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Batch:
    index: int
    offset: int
    rows: int
    content: bytes
    content_type: str


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, datetime):  # datetime subclasses such as pandas.Timestamp
        return datetime(obj.year, obj.month, obj.day, obj.hour, obj.minute, obj.second, obj.microsecond,
                        tzinfo=obj.tzinfo)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    raise TypeError(f"cannot encode a {type(obj).__name__} as JSON")  # msgspec reports it as an unsupported type


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def as_frame(data: object) -> pl.DataFrame | None:
    """The input as a polars DataFrame, or None when it is not a frame.

    polars is needed only for frame input, so it is not imported here unless the caller has (a polars frame
    can only exist if polars is imported) or a pandas frame must be converted; dict rows need neither."""
    loaded = sys.modules.get("polars")
    if loaded is not None:
        if isinstance(data, loaded.DataFrame):
            return data
        if isinstance(data, loaded.LazyFrame):
            frame: pl.DataFrame = data.collect()
            return frame
    pandas = sys.modules.get("pandas")  # likewise for pandas
    if pandas is not None and isinstance(data, pandas.DataFrame):
        try:
            import polars
        except ImportError as exc:
            raise ImportError("sending a pandas DataFrame needs polars (pip install polars pyarrow)") from exc
        try:
            return polars.from_pandas(data)
        except Exception as exc:  # pyarrow/polars raise many types for unconvertible object columns
            raise ValueError(f"cannot convert the pandas DataFrame to Arrow: {exc}") from exc
    return None


def _bad_float(value: object, nan_allowed: bool) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return not (nan_allowed and math.isnan(value))
    return False


def check_json_floats(rows: list[Any], offset: int) -> None:
    """Refuse non-finite floats in dict rows (see the module docstring)."""
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            continue  # the server reports the row with its index
        for key, value in row.items():
            if isinstance(value, Mapping):
                nan_ok = key == "features"
                for sub, v in value.items():
                    if _bad_float(v, nan_ok):
                        raise ValueError(f"row {offset + i}, {key}.{sub}: {v} cannot be sent as JSON "
                                         "(NaN and infinity are refused; use None for a missing value)")
            elif isinstance(value, list):
                if any(_bad_float(v, False) for v in value):
                    raise ValueError(f"row {offset + i}, {key}: non-finite number in the list")
            elif _bad_float(value, False):
                raise ValueError(f"row {offset + i}, {key}: {value} cannot be sent as JSON "
                                 "(NaN and infinity are refused; use None for a missing value)")


def encode_frame(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ipc_stream(buf, compression="uncompressed")
    return buf.getvalue()


def iter_batches(data: object, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Batch]:
    """Split the input into encoded batches of at most `batch_size` rows, lazily (one body in memory at a
    time for iterables)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    frame = as_frame(data)
    if frame is not None:
        for index, offset in enumerate(range(0, frame.height, batch_size)):
            part = frame.slice(offset, batch_size)
            yield Batch(index, offset, part.height, encode_frame(part), ARROW_STREAM)
        return
    if isinstance(data, str | bytes | Mapping) or not isinstance(data, Iterable):
        raise TypeError(f"expected a list of dicts or a DataFrame (polars or pandas), got {type(data).__name__}")
    it = iter(data)
    index = offset = 0
    while chunk := list(islice(it, batch_size)):
        check_json_floats(chunk, offset)
        yield Batch(index, offset, len(chunk), _encoder.encode(chunk), JSON)
        index += 1
        offset += len(chunk)
