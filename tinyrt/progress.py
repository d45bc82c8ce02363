"""Progress for long work: a bar that redraws on a terminal, plain lines otherwise (CI logs)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int, stream=None, enabled: bool = True):
        self.label, self.total, self.done = label, max(total, 1), 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self._last_line = -1

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done = min(self.total, self.done + n)
        if not self.enabled:
            return
        if self.tty:
            width = 30
            filled = int(width * self.done / self.total)
            bar = "#" * filled + "." * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {note}"[:120].ljust(100))
            if self.done == self.total:
                self.stream.write("\n")
        else:
            # one line per 10% so logs stay short
            step = self.done * 10 // self.total
            if step != self._last_line or self.done == self.total:
                self._last_line = step
                self.stream.write(f"{self.label}: {self.done}/{self.total} {note}\n")
        self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.enabled and self.tty and self.done < self.total:
            self.stream.write("\n")
        return False


def step(label: str, enabled: bool = True, stream=None):
    """Announce a single long step (build, flash)."""
    if enabled:
        s = stream or sys.stderr
        s.write(f"{label}...\n")
        s.flush()
