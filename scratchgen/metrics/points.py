"""The one check every sample metric makes of its input."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def as_points(x: ArrayLike, name: str, at_least: int = 1) -> np.ndarray:
    """x as a float64 array (n, d), a 1-D array read as n points of dimension 1; refused in
    one line unless it is finite with n >= at_least."""
    x = np.asarray(x, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or len(x) < at_least:
        raise ValueError(f"{name}: expected points (n, d) with n >= {at_least}, got an array "
                         f"of shape {x.shape}")  # fmt: skip
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: the points hold NaN or infinite values")
    return x
