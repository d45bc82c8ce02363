"""Where the data directories (templates/, boards/, firmware/) are, in a checkout or a wheel."""
from __future__ import annotations

from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """``templates``, ``boards`` or ``firmware``: beside the package in a checkout or an editable
    install, under ``tinyrt/_data`` in a wheel."""
    for candidate in (_REPO / name, Path(__file__).resolve().parent / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tinyrt data directory '{name}' is missing from the installation")
