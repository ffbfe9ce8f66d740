"""Merging fetched window rows per (bucket, grp) in numpy.

Count arrays arrive as bytes in one of two forms, told apart by the element type oid in their header:
`dl_array_bytes` (migration 0015: the array's stored bytes, a 20-byte header for one dimension then native
little-endian 8-byte values; what the reader sends when the function exists) or `array_send` (PostgreSQL's
binary array format: the same header big-endian, then a 4-byte length and an 8-byte big-endian value per
element). Window arrays never hold NULL elements (the stored form would carry a null bitmap; refused).
Parsing whole columns at once with a structured dtype and summing per group (a reshaped axis when every
group has as many rows, else `np.add.reduceat`) keeps a 30-day read in milliseconds.
The scalar state columns may arrive packed in one `float8[]` per row (`SCALARS`, what the reader sends) and
are then merged as one matrix; rows holding them as separate columns merge alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.windows.spec import Family

# The column holding a row's scalar state columns (count, sum, min, max merges) as one float8 array in the
# family's state order, NULL as NaN (window counts, sums, minima and maxima are never NaN themselves).
SCALARS = "scalars"
_HEADER = 20  # one dimension: ndim, null flag / data offset, element type oid, length, lower bound (int32 each)
_OIDS = {"i8": 20, "f8": 701}  # bigint, double precision
_TYPES: dict[str, Any] = {"i8": np.int64, "f8": np.float64}


def _stored_form(sample: bytes, kind: str) -> bool:
    """True for the stored form (`dl_array_bytes`), False for `array_send`'s: the element type oid at bytes
    8-12 is little- or big-endian (a window array's oid is never a palindrome in 4 bytes)."""
    oid = sample[8:12]
    if oid == _OIDS[kind].to_bytes(4, "little"):
        return True
    if oid == _OIDS[kind].to_bytes(4, "big"):
        return False
    raise ValueError(f"not a one-dimensional {kind} array in a known wire form (element type bytes {oid.hex()})")


def _matrix(joined: bytes, kind: str, size: int) -> Any:
    """Concatenated arrays of `size` bytes each (at least one dimension's header), all in one form →
    (rows, elements) int64 ("i8") / float64 ("f8") matrix. Stored form: 8-byte little-endian values after
    the header; `array_send`: a 4-byte length word and an 8-byte big-endian value per element."""
    if _stored_form(joined, kind):
        n = (size - _HEADER) // 8
        rec = np.frombuffer(joined, dtype=np.dtype([("h", "<i4", (5,)), ("v", "<" + kind, (n,))]))
        if rec["h"][:, 1].any():  # a data offset: a null bitmap before the values
            raise ValueError("a window array holds NULL elements")
        return rec["v"].astype(_TYPES[kind])
    n = (size - _HEADER) // 12
    rec = np.frombuffer(joined, dtype=np.dtype([("h", "V20"), ("e", [("len", ">i4"), ("v", ">" + kind)], (n,))]))
    return rec["e"]["v"].astype(_TYPES[kind])


def decode_array(buf: bytes | None, kind: str = "i8") -> Any:
    """A bigint[] ("i8") or float8[] ("f8") in either wire form → int64 / float64 array; None for NULL."""
    if buf is None:
        return None
    if len(buf) < _HEADER:  # empty array: 12-byte header, no dimensions
        return np.zeros(0, dtype=_TYPES[kind])
    return _matrix(buf, kind, len(buf))[0]


def _column_matrix(values: Sequence[bytes | None], kind: str = "i8") -> Any:
    """(rows, length) matrix when every array has the same length (NULL rows as zeros), else a list;
    int64 for bigint[] (`kind` "i8"), float64 for float8[] ("f8"). Either wire form, one per column."""
    complete = None not in values  # (an identity scan in C) then map/join without a per-row branch
    lengths = set(map(len, values)) if complete else {len(v) for v in values if v is not None}  # type: ignore[arg-type]
    if len(lengths) > 1:  # e.g. feature windows: 50 bins of a numeric feature, 2-20 categories
        return _decode_by_length(values, kind)
    if not lengths:
        return [None] * len(values)
    size = lengths.pop()
    if size < _HEADER:
        return [decode_array(v, kind) for v in values]
    sample = next(v for v in values if v is not None)
    blank = bytes(8) + sample[8:12] + bytes(size - 12)  # a zero array of the same form (a NULL row)
    joined = b"".join(values) if complete else b"".join(v if v is not None else blank for v in values)  # type: ignore[arg-type]
    return _matrix(joined, kind, size)


def _decode_by_length(values: Sequence[bytes | None], kind: str) -> list[Any]:
    """Arrays of several lengths: each length's arrays decoded at once (a structured view of their
    concatenation) rather than one by one."""
    out: list[Any] = [None] * len(values)
    by_size: dict[int, list[int]] = {}
    for i, v in enumerate(values):
        if v is not None:
            by_size.setdefault(len(v), []).append(i)
    for size, rows in by_size.items():
        if size < _HEADER:
            for i in rows:
                out[i] = decode_array(values[i], kind)
            continue
        mat = _matrix(b"".join(values[i] for i in rows), kind, size)  # type: ignore[misc]
        for k, i in enumerate(rows):
            out[i] = mat[k]
    return out


@dataclass(frozen=True, slots=True)
class Merged:
    """Merged window state column by column: G groups (one per distinct (bucket, grp), in row order).

    `columns[c]`: for "counts" an int64 (G, length) matrix (zeros where absent) or, when lengths differ,
    a list of arrays / None; for "sums" the same in float64, present only where every merged row had one
    (a group mixing rows with and without per-bin sums has none); for "count" an int64 (G,) array (0 where absent); for "sum" a float64 (G,)
    array; for "min"/"max" a float64 (G,) array with NaN where absent. `present[c]` (G,) says whether any
    merged row had a non-NULL value (the per-row form maps absent "counts"/"sum" to None).
    """

    buckets: list[Any]
    groups: list[Any]
    columns: dict[str, Any]
    present: dict[str, NDArray[np.bool_]]

    def __len__(self) -> int:
        return len(self.buckets)


def _group_starts(bk: Sequence[Any], gk: Sequence[Any]) -> list[int]:
    """The first row of each run of equal (bucket, grp); vectorised for integer buckets without a group."""
    if isinstance(bk[0], int) and list(gk).count(None) == len(gk):
        b = np.fromiter(bk, dtype=np.int64, count=len(bk))
        return [0, *(np.flatnonzero(b[1:] != b[:-1]) + 1).tolist()]
    return [0] + [i for i in range(1, len(bk)) if bk[i] != bk[i - 1] or gk[i] != gk[i - 1]]


@dataclass(frozen=True, slots=True)
class _Groups:
    """Consecutive runs of rows (sorted by key) to merge: `idx` the first row of each, `width` the rows per
    group when every group has the same number of rows (1: nothing to merge), else None."""

    idx: NDArray[np.intp]
    rows: int
    width: int | None

    @classmethod
    def of(cls, starts: list[int], rows: int) -> _Groups:
        idx = np.asarray(starts, dtype=np.intp)
        width = rows // len(starts) if rows % len(starts) == 0 else None
        if width is not None and width > 1 and not (np.diff(idx) == width).all():
            width = None
        return cls(idx, rows, width)

    def reduce(self, ufunc: np.ufunc, arr: NDArray[Any]) -> NDArray[Any]:
        """`ufunc.reduceat(arr, idx, axis=0)`. Groups of one width (the usual case: each key has one row per
        version and segment) are reduced as a reshaped axis instead: `reduceat` along the first axis of a
        matrix costs ~10× more (a (4 320, 102) count matrix in pairs: 2.4 ms vs 0.2 ms)."""
        if self.width == 1:
            return arr
        if self.width is not None:
            out: NDArray[Any] = ufunc.reduce(arr.reshape(len(self.idx), self.width, *arr.shape[1:]), axis=1)
            return out
        return ufunc.reduceat(arr, self.idx, axis=0)


def merge_columns(family: Family, rows: Sequence[Any]) -> Merged:
    """Rows sorted by (bucket, grp) → merged columns per (bucket, grp) with the family's merge rules."""
    if not rows:
        return Merged([], [], {}, {})
    index = {name: i for i, name in enumerate(rows[0].keys())}
    transposed = list(zip(*rows, strict=True))  # every column in one pass, in C

    def column(name: str) -> Sequence[Any]:
        return transposed[index[name]]

    bk, gk = column("bucket"), column("grp")
    starts = _group_starts(bk, gk)
    groups = _Groups.of(starts, len(rows))
    columns: dict[str, Any] = {}
    present: dict[str, NDArray[np.bool_]] = {}
    scalars = [(c, how) for c, how in family.state if how not in ("counts", "sums")]
    if SCALARS in index and scalars:
        _merge_scalars(column(SCALARS), scalars, groups, columns, present)
    for col, how in family.state:
        if how == "sums":
            columns[col], present[col] = _merge_sums(column(col), groups, starts)
            continue
        if how != "counts":
            if col in columns:
                continue  # merged from SCALARS
            # None → NaN in C (window sums, counts, minima and maxima are never NaN themselves)
            arr = np.array(column(col), dtype=np.float64)
            absent = np.isnan(arr)
            present[col] = groups.reduce(np.logical_or, ~absent)
            if how == "count":
                columns[col] = groups.reduce(np.add, np.where(absent, 0.0, arr).astype(np.int64))
            elif how == "sum":
                columns[col] = groups.reduce(np.add, np.where(absent, 0.0, arr))
            else:
                columns[col] = groups.reduce(np.fmin if how == "min" else np.fmax, arr)
            continue
        values = column(col)
        notnull = np.fromiter(map(bool, values), dtype=bool, count=len(values))  # bytes are never empty
        present[col] = groups.reduce(np.logical_or, notnull)
        trimmed = f"{col}_from" in index
        mat = (
            _placed_matrix(values, column(f"{col}_from"), column(f"{col}_len"))
            if trimmed
            else _column_matrix(values)
        )
        if isinstance(mat, np.ndarray):
            columns[col] = groups.reduce(np.add, mat) if mat.shape[1] else np.zeros((len(starts), 0), np.int64)
        elif len(starts) == len(values):  # one row per (bucket, grp): nothing to add
            columns[col] = list(mat)
        else:
            bounds = [*starts[1:], len(values)]
            out: list[NDArray[np.int64] | None] = []
            for a, b in zip(starts, bounds, strict=True):
                parts = [x for x in mat[a:b] if x is not None]
                out.append(np.sum(parts, axis=0) if parts else None)
            columns[col] = out
    return Merged([_as_time(bk[i]) for i in starts], [gk[i] for i in starts], columns, present)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _as_time(bucket: Any) -> Any:
    """A bucket start sent as integer microseconds since the epoch (`window_reads`) → the UTC datetime a
    timestamptz decodes to; a datetime as it is."""
    return _UNIX_EPOCH + timedelta(microseconds=bucket) if isinstance(bucket, int) else bucket


def _merge_scalars(
    values: Sequence[bytes | None],
    scalars: Sequence[tuple[str, str]],
    groups: _Groups,
    columns: dict[str, Any],
    present: dict[str, NDArray[np.bool_]],
) -> None:
    """The scalar state columns from their packed float8 arrays (`SCALARS`), merged as one (rows, columns)
    matrix: a handful of array operations rather than two per column. Counts are summed as floats (exact:
    window counts are far below 2⁵³) and returned as int64."""
    mat = _column_matrix(values, "f8")
    if not isinstance(mat, np.ndarray) or mat.shape[1] != len(scalars):
        raise ValueError(f"{SCALARS}: expected {len(scalars)} values per row")
    absent = np.isnan(mat)
    has = groups.reduce(np.logical_or, ~absent).T
    total = groups.reduce(np.add, np.where(absent, 0.0, mat)).T
    hows = {how for _, how in scalars}
    lo = groups.reduce(np.fmin, mat).T if "min" in hows else None
    hi = groups.reduce(np.fmax, mat).T if "max" in hows else None
    for j, (col, how) in enumerate(scalars):
        present[col] = np.ascontiguousarray(has[j])
        if how == "count":
            columns[col] = total[j].astype(np.int64)
        elif how == "sum":
            columns[col] = np.ascontiguousarray(total[j])
        else:
            part = lo if how == "min" else hi
            assert part is not None
            columns[col] = np.ascontiguousarray(part[j])


def _merge_sums(values: Sequence[bytes | None], groups: _Groups, starts: list[int]) -> tuple[Any, NDArray[np.bool_]]:
    notnull = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    present = groups.reduce(np.logical_and, notnull)
    mat = _column_matrix(values, "f8")
    if isinstance(mat, np.ndarray):
        summed = groups.reduce(np.add, mat) if mat.shape[1] else np.zeros((len(starts), 0), np.float64)
        return summed, present
    if len(starts) == len(values):  # one row per (bucket, grp): each array as it came (None where absent)
        return list(mat), present
    bounds = [*starts[1:], len(values)]
    out: list[NDArray[np.float64] | None] = []
    for a, b, ok in zip(starts, bounds, present.tolist(), strict=True):
        parts = [x for x in mat[a:b] if x is not None]
        out.append(np.sum(parts, axis=0) if ok and parts else None)
    return out, present


def _placed_matrix(
    values: Sequence[bytes | None], starts: Sequence[int | None], lengths: Sequence[int | None]
) -> NDArray[np.int64]:
    """(rows, full length) matrix from arrays sent as slices `arr[start:...]` (1-based start) of
    arrays of `lengths` elements that are zero outside the slice; NULL rows are zeros."""
    bufs = [v or b"" for v in values]
    width = max((n for n in lengths if n is not None), default=0)
    mat = np.zeros((len(bufs), width), dtype=np.int64)
    sample = next((b for b in bufs if len(b) >= _HEADER), None)
    if sample is None:
        return mat
    if _stored_form(sample, "i8"):
        raise ValueError("histogram slices are sent with array_send (the stored form ships whole arrays)")
    sizes = np.fromiter(map(len, bufs), dtype=np.int64, count=len(bufs))
    lens = np.where(sizes >= _HEADER, (sizes - _HEADER) // 12, 0)
    first = np.asarray([s or 1 for s in starts], dtype=np.int64) - 1
    if np.any(first + lens > width):
        raise ValueError("a histogram slice reaches past the array length")
    total = int(lens.sum())
    if total == 0:
        return mat
    # every array is 20 + 12·n bytes, so each 8-byte value starts on a 4-byte word: read the two
    # big-endian 32-bit halves of each value from a word view of the concatenated buffers
    words = np.frombuffer(b"".join(bufs), dtype=">u4")
    row = np.repeat(np.arange(len(bufs)), lens)
    j = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)  # element index within its slice
    word = np.repeat((np.cumsum(sizes) - sizes + _HEADER + 4) // 4, lens) + 3 * j  # past header, length
    vals = (words[word].astype(np.int64) << 32) | words[word + 1].astype(np.int64)
    mat[row, np.repeat(first, lens) + j] = vals
    return mat
