"""Data and the space image models compute in: images as their levels mapped onto [-1, 1],
2 x / (levels - 1) - 1, and back to the nearest level; vectors as they are. The GANs, the
energy models and the score and diffusion models share it."""

from __future__ import annotations

import numpy as np

from scratchgen.data import DataInfo


def _top(info: DataInfo) -> int:
    return 1 if info.kind == "binary" else info.levels - 1


def to_signal(x: np.ndarray, info: DataInfo) -> np.ndarray:
    """Data -> signal space: images to [-1, 1], vectors as they are."""
    if info.kind == "continuous":
        return x
    return 2.0 * x / _top(info) - 1.0


def from_signal(s: np.ndarray, info: DataInfo) -> np.ndarray:
    """Signal space -> data: the nearest level for images."""
    if info.kind == "continuous":
        return s
    top = _top(info)
    return np.clip(np.rint((s + 1.0) / 2.0 * top), 0, top).astype(np.int64)
