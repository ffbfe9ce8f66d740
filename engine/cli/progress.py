"""A one-line progress display on stderr (no dependency): rows done, percentage, rate. Redrawn at most
ten times a second, and only on a terminal unless forced."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr, enabled: bool | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.enabled and (now - self._drawn >= 0.1 or self.done >= self.total):
            self._drawn = now
            pct = 100.0 * self.done / self.total if self.total else 100.0
            self.stream.write(f"\r{self.label}: {self.done:,}/{self.total:,} rows ({pct:5.1f}%) "
                              f"{self.rate():,.0f} rows/s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
