"""Pictures of a plan: live memory over the schedule (`tinyrt plan --plot FILE.png`)."""
from __future__ import annotations

from pathlib import Path

from .errors import TinyrtError


def live_memory(path: str, title: str, series: dict[str, list[int]], labels: list[str],
                budget: int | None = None) -> Path:
    """Write a PNG with one step curve of live bytes per entry of ``series`` (same x: the
    schedule's layers, ``labels``), and the board's SRAM budget as a line when given."""
    try:
        import matplotlib
        matplotlib.use("Agg")   # files only, no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        raise TinyrtError("plotting needs matplotlib", ["pip install matplotlib"]) from None
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(labels)), 4.0), dpi=120)
    steps = list(range(len(labels)))
    for name, values in series.items():
        ax.step(steps, [v / 1024 for v in values], where="mid", label=name, linewidth=2)
    if budget:
        ax.axhline(budget / 1024, color="grey", linestyle="--", label="board SRAM")
    ax.set_xticks(steps, labels, rotation=90, fontsize=7)
    ax.set_ylabel("live activation memory (KiB)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
