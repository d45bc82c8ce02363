"""One exception type for every mistake a user can make.

The CLI prints ``error: <message>`` followed by ``try: <hint>`` lines and exits 1; a Python
traceback is shown only with ``-v``. Code that detects a user error raises ``TinyrtError`` with
hints that say what would help, never a bare ``ValueError``.
"""
from __future__ import annotations


class TinyrtError(Exception):
    def __init__(self, message: str, hints: list[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.hints = list(hints)

    def __str__(self) -> str:
        return "\n".join([self.message] + [f"try: {h}" for h in self.hints])


class UnsupportedOp(TinyrtError):
    """An operator (or an operator configuration) tinyrt cannot compile."""
