"""Half-open time ranges: merging, aligning to a level's buckets, and splitting work into bounded pieces."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from engine.windows.spec import Level

Range = tuple[datetime, datetime]


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Union of half-open ranges as sorted, disjoint, non-adjacent ranges."""
    out: list[Range] = []
    for lo, hi in sorted(ranges):
        if hi <= lo:
            continue
        if out and lo <= out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def align(ranges: Iterable[Range], level: Level) -> list[Range]:
    """The smallest union of whole `level` buckets covering `ranges`."""
    return merge_ranges((level.floor(lo), level.ceil(hi)) for lo, hi in ranges)


def clip(ranges: Iterable[Range], lo: datetime, hi: datetime) -> list[Range]:
    return merge_ranges((max(a, lo), min(b, hi)) for a, b in ranges)


def take_budget(ranges: list[Range], budget: timedelta) -> tuple[list[Range], list[Range]]:
    """Split sorted disjoint ranges into a head whose total span is at most `budget` (at least some work
    is always taken) and the rest."""
    taken: list[Range] = []
    left = budget
    for i, (lo, hi) in enumerate(ranges):
        span = hi - lo
        if span <= left:
            taken.append((lo, hi))
            left -= span
            continue
        if left > timedelta(0):
            cut = lo + left
            taken.append((lo, cut))
            return taken, [(cut, hi), *ranges[i + 1 :]]
        return taken, ranges[i:]
    return taken, []
