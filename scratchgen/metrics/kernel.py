"""Kernel two-sample statistics: the maximum mean discrepancy, its permutation test, and the
kernel inception distance (KID).

    MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y),    x, x' ~ P,  y, y' ~ Q

estimated without bias by the U-statistic (Gretton et al., "A Kernel Two-Sample Test", JMLR
2012, Lemma 6: the unbiased MMD^2_u):

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1))
              - 2 sum_{i, j} k(x_i, y_j) / (m n)

It can be negative when P = Q. KID is MMD^2_u with the cubic polynomial kernel on features,
k(x, y) = (x.y / d + 1)^3, averaged over random subsets (Binkowski et al., "Demystifying MMD
GANs", 2018).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial.distance import pdist

from scratchgen.metrics.pairwise import squared_distances
from scratchgen.metrics.points import as_points

MEDIAN_POINTS = 4000  # the median heuristic looks at this many pooled points at most


def _mean_off_diagonal(K: np.ndarray) -> float:
    """sum_{i != j} K_ij / (m (m - 1)), a within-sample term of MMD^2_u."""
    m = len(K)
    return float((K.sum() - np.trace(K)) / (m * (m - 1)))


def _unbiased_mmd2(K: np.ndarray, m: int) -> float:
    """MMD^2_u from the kernel matrix of the pooled sample, the first m rows being x."""
    return _mean_off_diagonal(K[:m, :m]) + _mean_off_diagonal(K[m:, m:]) - 2.0 * K[:m, m:].mean()


def median_bandwidth(pooled: np.ndarray) -> float:
    """The median heuristic: h = the median distance between distinct points of the pooled
    sample (Gretton et al. 2012), so that k(x, y) = exp(-||x - y||^2 / (2 h^2)); over at most
    MEDIAN_POINTS of them, evenly spaced through the pooled rows."""
    if len(pooled) > MEDIAN_POINTS:  # evenly spaced rows: deterministic, and 8M pairs at most
        pooled = pooled[np.linspace(0, len(pooled) - 1, MEDIAN_POINTS).astype(int)]
    h = float(np.median(pdist(pooled)))
    return h if h > 0 else 1.0


def _kernel_function(pooled: np.ndarray, kernel: str, bandwidth: float | None):
    """k(a, b) as a function of two sets of rows, its bandwidth fixed from the pooled sample."""
    if kernel == "rbf":
        h = median_bandwidth(pooled) if bandwidth is None else float(bandwidth)
        if not h > 0:
            raise ValueError(f"mmd: bandwidth must be positive, got {bandwidth}")
        return lambda a, b=None: np.exp(-squared_distances(a, b) / (2.0 * h * h))
    if kernel == "cubic":
        d = pooled.shape[1]
        return lambda a, b=None: (a @ (a if b is None else b).T / d + 1.0) ** 3
    raise ValueError(f"mmd: kernel must be 'rbf' or 'cubic', got {kernel!r}")


def _kernel_matrix(pooled: np.ndarray, kernel: str, bandwidth: float | None) -> np.ndarray:
    return _kernel_function(pooled, kernel, bandwidth)(pooled)


def mmd(x: ArrayLike, y: ArrayLike, kernel: str = "rbf", bandwidth: float | None = None) -> float:
    """MMD^2_u between samples x (m, d) and y (n, d): ``kernel`` "rbf" (bandwidth by the
    median heuristic unless given) or "cubic" (KID's). The three blocks of the kernel matrix
    are made one at a time, so 10 000 points a side need 800 MB, not 3.2 GB."""
    x, y = as_points(x, "mmd", 2), as_points(y, "mmd", 2)
    k = _kernel_function(np.concatenate([x, y]), kernel, bandwidth)
    return _mean_off_diagonal(k(x)) + _mean_off_diagonal(k(y)) - 2.0 * float(k(x, y).mean())


def mmd_test(
    x: ArrayLike, y: ArrayLike, permutations: int = 1000, rng: np.random.Generator | None = None,
    kernel: str = "rbf", bandwidth: float | None = None,
) -> tuple[float, float]:  # fmt: skip
    """(MMD^2_u, p-value) of the test of P = Q: under the null the pooled sample is
    exchangeable, so the statistic is compared with its values on random relabellings,

        p = (1 + #{b : MMD^2_u(relabelling b) >= MMD^2_u}) / (1 + B),

    which is a valid p-value (its rejection rate at level alpha is at most alpha). The kernel
    and its bandwidth are fixed once, from the pooled sample, for every relabelling."""
    x, y = as_points(x, "mmd_test", 2), as_points(y, "mmd_test", 2)
    if permutations < 1:
        raise ValueError(f"mmd_test: permutations must be at least 1, got {permutations}")
    rng = np.random.default_rng() if rng is None else rng
    pooled = np.concatenate([x, y])
    K, m = _kernel_matrix(pooled, kernel, bandwidth), len(x)
    statistic = _unbiased_mmd2(K, m)
    # every relabelling at once: with a the indicator of the rows labelled x and b = 1 - a,
    # the three sums of MMD^2_u are a'K0a, b'K0b and a'Kb, K0 being K without its diagonal
    np.fill_diagonal(K, 0.0)
    a = np.zeros((len(pooled), permutations))
    for column in range(permutations):
        a[rng.permutation(len(pooled))[:m], column] = 1.0
    b, n = 1.0 - a, len(pooled) - m
    Ka = K @ a
    sum_x, sum_y = np.sum(a * Ka, axis=0), np.sum(b * (K @ b), axis=0)
    cross = np.sum(b * Ka, axis=0)
    relabelled = sum_x / (m * (m - 1)) + sum_y / (n * (n - 1)) - 2.0 * cross / (m * n)
    exceed = int(np.sum(relabelled >= statistic))
    return statistic, (1 + exceed) / (1 + permutations)


def kid(real: ArrayLike, fake: ArrayLike, subsets: int = 100, subset_size: int = 1000,
        rng: np.random.Generator | None = None) -> tuple[float, float]:  # fmt: skip
    """(mean, standard deviation) of MMD^2_u with the cubic kernel over ``subsets`` random
    subsets of ``subset_size`` examples from each set of features (fewer when a set is
    smaller), drawn without replacement within a subset. Unbiased for any subset size, unlike
    FID. When a subset is the whole of both sets, every subset is the same: it is computed
    once, and the standard deviation is 0."""
    real, fake = as_points(real, "kid", 2), as_points(fake, "kid", 2)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"kid: feature dimensions differ, {real.shape[1]} and {fake.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise ValueError("kid: need subsets >= 1 and subset_size >= 2")
    rng = np.random.default_rng() if rng is None else rng
    m = min(subset_size, len(real), len(fake))
    values = []
    for _ in range(1 if m == len(real) == len(fake) else subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        values.append(_unbiased_mmd2(_kernel_matrix(np.concatenate([x, y]), "cubic", None), m))
    return float(np.mean(values)), float(np.std(values))
