"""Time bounds for DML into `predictions` that must not wander into compressed history.

On the full edition, an UPDATE reaching a compressed chunk first decompresses every compressed batch that its
constant WHERE clauses cannot rule out (TimescaleDB uses the segment-by columns and the batches' min/max
time; join conditions do not count). So a batch of labels is applied as a few statements, each bounded by
the times of the predictions it labels, and planned for those values:

- an uncompressed chunk takes one statement over [first, last] of its targets (an index probe per target);
- a compressed chunk (fully or partly) takes one statement per run of targets with no gap longer than
  `gap`: what lies between two runs is never decompressed. A statement costs a few milliseconds to plan; a
  compressed batch holds up to 1,000 rows of one (model, version), which take about as long to decompress
  and move. With the default of 15 minutes, a model with more than ~100,000 predictions a day does not
  decompress more than about one batch per segment between two labels it could have split, and a smaller
  model, whose batches span hours, does not pay more than one statement per decompressed batch.

>>> from datetime import datetime, timedelta, UTC
>>> day = datetime(2026, 3, 1, tzinfo=UTC)
>>> chunks = [ChunkRange(day, day + timedelta(days=1), True), ChunkRange(day + timedelta(days=1), day + timedelta(days=2), False)]
>>> times = [day + timedelta(hours=h) for h in (1, 1.1, 5, 25, 30)]
>>> [(g.lo.hour, g.hi.hour, g.compressed) for g in time_groups(times, chunks)]
[(1, 1, True), (5, 5, True), (1, 6, False)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_GAP = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ChunkRange:
    """One chunk of the hypertable: [start, end) and whether any of it is compressed."""

    start: datetime
    end: datetime
    compressed: bool


@dataclass(frozen=True, slots=True)
class TimeGroup:
    """The targets with lo <= time <= hi go into one statement; `compressed` when they lie in a chunk that
    is compressed (its statistics then say nothing about the rows a statement will decompress)."""

    lo: datetime
    hi: datetime
    compressed: bool
    count: int


def time_groups(
    times: Iterable[datetime], chunks: Sequence[ChunkRange], gap: timedelta = DEFAULT_GAP
) -> list[TimeGroup]:
    """Disjoint [lo, hi] groups covering `times`, in time order (see the module docstring). A time in no
    listed chunk (one created meanwhile) is treated like an uncompressed chunk of its own run."""
    ordered = sorted(chunks, key=lambda c: c.start)
    out: list[TimeGroup] = []
    k = 0
    lo: datetime | None = None
    hi: datetime | None = None
    n = 0
    key: tuple[int, bool] | None = None
    for t in sorted(times):
        while k < len(ordered) and ordered[k].end <= t:
            k += 1
        chunk = ordered[k] if k < len(ordered) and ordered[k].start <= t else None
        compressed = chunk.compressed if chunk is not None else False
        this = (k if chunk is not None else -1 - k, compressed)
        if lo is not None and hi is not None and this == key and not (compressed and t - hi > gap):
            hi = t
            n += 1
            continue
        if lo is not None and hi is not None and key is not None:
            out.append(TimeGroup(lo, hi, key[1], n))
        lo, hi, n, key = t, t, 1, this
    if lo is not None and hi is not None and key is not None:
        out.append(TimeGroup(lo, hi, key[1], n))
    return out
