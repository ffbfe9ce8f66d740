"""Keep freed heap memory for reuse in the served process (glibc `mallopt`).

A window read allocates and frees hundreds of numpy arrays of 0.1-5 MB (a 720-bucket read: (720, 102) count
matrices, their cumulative sums, …). With glibc's defaults each of them is above the mmap threshold or trims
the heap top when freed, so the next one faults its pages in again: on the 20M bench database that was
15-25 % of a read's CPU (30 d at 1h, all metrics: 42 → 35 ms; by region: 159 → 133 ms), and 5× the cost of
the average-precision kernel alone. Raising the mmap threshold and the trim threshold to `retain_mb` lets
freed arrays go back to the heap and be reused: the process keeps up to that much freed memory.

Not at import time: `app_from_env` calls `retain_heap` once when the served process starts. A no-op (False)
where glibc's `mallopt` is not available (musl, macOS) or `retain_mb` is 0.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
# glibc caps the mmap threshold at HEAP_MAX / 2 (32 MiB on 64-bit): larger values are refused
_MMAP_MAX = 32 * 1024 * 1024


def retain_heap(retain_mb: int) -> bool:
    """Allocations up to min(`retain_mb`, 32) MiB from the heap, and up to `retain_mb` MiB of freed heap kept
    rather than returned to the kernel. True if glibc accepted the settings."""
    if retain_mb <= 0:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    retain = retain_mb * 1024 * 1024
    ok = mallopt(M_MMAP_THRESHOLD, min(retain, _MMAP_MAX))
    ok &= mallopt(M_TRIM_THRESHOLD, retain)
    ok &= mallopt(M_TOP_PAD, min(retain, 64 * 1024 * 1024))
    return bool(ok)
