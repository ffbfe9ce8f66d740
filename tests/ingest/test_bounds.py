"""Time groups for label UPDATEs (engine.ingest.bounds): disjoint, ordered, within one chunk each, covering
every target; split at long gaps only in compressed chunks."""

from __future__ import annotations

import doctest
import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ingest import bounds
from engine.ingest.bounds import DEFAULT_GAP, ChunkRange, time_groups

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_doctests() -> None:
    assert doctest.testmod(bounds).failed == 0


def _chunks(flags: list[bool], width: timedelta) -> list[ChunkRange]:
    return [ChunkRange(DAY0 + i * width, DAY0 + (i + 1) * width, c) for i, c in enumerate(flags)]


@settings(max_examples=200, deadline=None)
@given(
    flags=st.lists(st.booleans(), min_size=1, max_size=6),
    offsets=st.lists(st.integers(0, 6 * 24 * 3600 - 1), min_size=1, max_size=60),
    missing=st.integers(0, 5),
)
def test_groups_partition_the_targets(flags: list[bool], offsets: list[int], missing: int) -> None:
    width = timedelta(days=1)
    chunks = _chunks(flags, width)
    known = [c for i, c in enumerate(chunks) if i != missing]  # a chunk created after the list was read
    times = [DAY0 + timedelta(seconds=s % (len(flags) * 24 * 3600)) for s in offsets]
    groups = time_groups(times, known)
    assert sum(g.count for g in groups) == len(times)
    for a, b in itertools.pairwise(groups):
        assert a.hi < b.lo
    for g in groups:
        inside = [t for t in times if g.lo <= t <= g.hi]
        assert len(inside) == g.count and g.lo in inside and g.hi in inside
        home = [c for c in chunks if c.start <= g.lo < c.end]
        listed = home[0] in known
        # a group never spans two listed chunks (times in a chunk missing from the list may share one: the
        # UPDATE is still bounded by them, only coarser)
        assert not listed or g.hi < home[0].end
        assert g.compressed == (listed and home[0].compressed)
        if g.compressed:
            ordered = sorted(inside)
            assert all(b - a <= DEFAULT_GAP for a, b in itertools.pairwise(ordered))
    # an uncompressed (or unlisted) chunk takes exactly one group
    for c in chunks:
        if not (c in known and c.compressed):
            assert len([g for g in groups if c.start <= g.lo < c.end]) <= 1


def test_a_compressed_chunk_is_split_at_gaps_and_an_uncompressed_one_is_not() -> None:
    chunks = _chunks([True, False], timedelta(days=1))
    minutes = [0, 5, 19, 60, 61, 24 * 60 + 3, 24 * 60 + 600]
    groups = time_groups([DAY0 + timedelta(minutes=m) for m in minutes], chunks)
    assert [(g.count, g.compressed) for g in groups] == [(3, True), (2, True), (2, False)]
    assert time_groups([], chunks) == []
