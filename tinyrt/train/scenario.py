"""The fine-tuning scenario of the README: the example digits model (tinyrt/example_digits.py)
meets a new writer, whose strokes are rotated, thicker and shifted compared with the digits it
was trained on, and adapts to them on the device.

``new_writer(x, seed)`` is that writer's hand: every image rotated by ROTATION degrees (plus a
few degrees of jitter per sample), its strokes thickened by a grey dilation, and moved by SHIFT
pixels (plus one pixel of jitter), all seeded. ``write_scenario(out_dir)`` writes the example
model and the writer's data as the ``.npz`` files `tinyrt finetune` takes: ``train.npz`` from
the example's training split (the samples the writer gives the device), ``eval.npz`` from its
test split (never trained on, by either training).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import TinyrtError

ROTATION, JITTER = 20.0, 5.0     # degrees, clockwise
SHIFT = (1, 2)                   # pixels (down, right) on the 16x16 image
THICKEN = 2                      # dilation window (pixels)
TRAIN_SAMPLES = 400


def _ndimage():
    try:
        from scipy import ndimage
    except ImportError:
        raise TinyrtError("scipy is needed for the new-writer scenario (it comes with scikit-learn)",
                          ["pip install scikit-learn"]) from None
    return ndimage


def new_writer(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """The images ``x`` ([N, H, W, 1], values in [0, 1]) as the new writer draws them."""
    ndimage, rng = _ndimage(), np.random.default_rng(seed)
    out = np.empty_like(x, dtype=np.float32)
    for i, img in enumerate(np.asarray(x, np.float32)[..., 0]):
        angle = -ROTATION + rng.uniform(-JITTER, JITTER)
        a = ndimage.rotate(img, angle, reshape=False, order=1, mode="constant")
        a = ndimage.grey_dilation(a, size=(THICKEN, THICKEN))
        dy, dx = (s + int(rng.integers(-1, 2)) for s in SHIFT)
        a = ndimage.shift(a, (dy, dx), order=0, mode="constant")
        out[i, ..., 0] = np.clip(a, 0.0, 1.0)
    return out


def write_scenario(out_dir: str | Path, seed: int = 0, train_samples: int = TRAIN_SAMPLES) -> dict:
    """The example model (int8 and float) and the new writer's ``train.npz`` / ``eval.npz`` in
    ``out_dir``; returns their paths (as strings)."""
    from ..example_digits import load_data, make_example
    out = Path(out_dir)
    paths = make_example(out, seed=seed)
    x_train, y_train, x_test, y_test = load_data(seed)
    pick = np.random.default_rng(seed + 1).permutation(len(y_train))[:train_samples]
    train, evaluation = out / "writer_train.npz", out / "writer_eval.npz"
    np.savez(train, x=new_writer(x_train[pick], seed + 2), y=y_train[pick])
    np.savez(evaluation, x=new_writer(x_test, seed + 3), y=y_test)
    return {"model": paths["int8_model"], "float_model": paths["float_model"],
            "train_data": str(train), "eval_data": str(evaluation)}
