"""Distances between every pair of points, by one matrix product.

    ||a_i - b_j||^2 = ||a_i||^2 + ||b_j||^2 - 2 a_i . b_j

is a BLAS matrix product, many times faster than a loop over pairs (SciPy's ``cdist``) on
two cores. It loses digits to cancellation when two points are close (an error of about
1e-16 ||a||^2, so it is clipped at 0) and is exactly 0 between a point and itself. scikit-
learn's ``euclidean_distances``, used by the reference code of the k-NN metrics, computes the
same way.
"""

from __future__ import annotations

import numpy as np


def squared_distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """(m, n) squared Euclidean distances between the rows of a and of b (b = a if None)."""
    same = b is None
    b = a if same else b
    squared = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * (a @ b.T)
    np.maximum(squared, 0.0, out=squared)
    if same:
        np.fill_diagonal(squared, 0.0)
    return squared


def distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """(m, n) Euclidean distances between the rows of a and of b (b = a if None)."""
    return np.sqrt(squared_distances(a, b))
