"""Distances between two samples for the low-dimensional benchmarks: the exact 2-Wasserstein
distance between equal-size samples, and the energy distance."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from scratchgen.metrics.pairwise import distances
from scratchgen.metrics.points import as_points


def _pair(x, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = as_points(x, name), as_points(y, name)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{name}: expected samples (m, d) and (n, d), got {x.shape}, {y.shape}")
    return x, y


def wasserstein2(x: ArrayLike, y: ArrayLike) -> float:
    """W2 between the empirical distributions of two samples of equal size n:

        W2^2 = min over permutations s of 1/n sum_i ||x_i - y_s(i)||^2,

    exact, because between two uniform distributions on n points an optimal coupling is a
    permutation (Birkhoff's theorem); found by the Hungarian method
    (``scipy.optimize.linear_sum_assignment``, O(n^3): a few thousand points at most)."""
    x, y = _pair(x, y, "wasserstein2")
    if len(x) != len(y):
        raise ValueError(f"wasserstein2: needs samples of equal size, got {len(x)} and {len(y)}")
    cost = cdist(x, y, "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def energy_distance(x: ArrayLike, y: ArrayLike) -> float:
    """The energy distance between the empirical distributions of x and y (Székely & Rizzo,
        "Energy statistics: A class of statistics based on distances", 2013; this is the
    V-statistic, over all pairs):

            E(x, y) = 2 mean_ij ||x_i - y_j|| - mean_ij ||x_i - x_j|| - mean_ij ||y_i - y_j||

        zero only when the two empirical distributions are equal. (SciPy's 1-D
        ``scipy.stats.energy_distance`` returns its square root.)"""
    x, y = _pair(x, y, "energy_distance")
    return float(2 * distances(x, y).mean() - distances(x).mean() - distances(y).mean())
