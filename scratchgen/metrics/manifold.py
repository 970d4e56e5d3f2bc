"""Fidelity and diversity from nearest neighbours: improved precision and recall (Kynkäänniemi
et al., "Improved Precision and Recall Metric for Assessing Generative Models", 2019) and
density and coverage (Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
Models", 2020).

Each point's radius r_k(x) is the distance to its k-th nearest neighbour in its own set, the
point itself excluded; the union of balls B(x, r_k(x)) over a set estimates its manifold.
With real points x_i (N of them) and generated y_j (M):

    precision = 1/M sum_j 1[exists i : ||y_j - x_i|| < r_k(x_i)]     (y_j on the real manifold)
    recall    = 1/N sum_i 1[exists j : ||x_i - y_j|| < r_k(y_j)]     (x_i on the generated one)
    density   = 1/(k M) sum_j sum_i 1[||y_j - x_i|| < r_k(x_i)]      (how many real balls)
    coverage  = 1/N sum_i 1[min_j ||x_i - y_j|| < r_k(x_i)]          (real balls reached)

Comparisons are strict, as in Naeem et al.'s reference code (with continuous features ties
have probability zero, so "<" and "<=" agree); density can exceed 1. Distances come from one
matrix product (``pairwise``), as they do in that code (scikit-learn's).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from scratchgen.metrics.pairwise import distances
from scratchgen.metrics.points import as_points


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """r_k(x_i): the distance from each point to its k-th nearest neighbour in x, itself
    excluded (the (k + 1)-th smallest distance, the first being its distance to itself)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return np.partition(distances(x), k, axis=1)[:, k]


def _pair(real: ArrayLike, fake: ArrayLike, k: int, name: str):
    real, fake = as_points(real, f"{name} (real)", k + 1), as_points(fake, f"{name} (fake)", k + 1)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"{name}: feature dimensions differ, {real.shape[1]} and {fake.shape[1]}")
    return real, fake, distances(real, fake)  # (N, M)


def precision_recall(real: ArrayLike, fake: ArrayLike, k: int = 3) -> dict[str, float]:
    """{"precision", "recall"} of Kynkäänniemi et al. (see the module docstring)."""
    real, fake, d = _pair(real, fake, k, "precision_recall")
    inside_real = d < knn_radii(real, k)[:, None]  # y_j in the ball of x_i
    inside_fake = d < knn_radii(fake, k)[None, :]  # x_i in the ball of y_j
    return {"precision": float(inside_real.any(axis=0).mean()),
            "recall": float(inside_fake.any(axis=1).mean())}  # fmt: skip


def density_coverage(real: ArrayLike, fake: ArrayLike, k: int = 5) -> dict[str, float]:
    """{"density", "coverage"} of Naeem et al. (see the module docstring)."""
    real, fake, d = _pair(real, fake, k, "density_coverage")
    radii = knn_radii(real, k)
    density = (d < radii[:, None]).sum(axis=0).mean() / k
    coverage = (d.min(axis=1) < radii).mean()
    return {"density": float(density), "coverage": float(coverage)}


CHUNK = 256  # samples per block: a block's distances to 60 000 examples take 120 MB


def nearest_neighbours(samples: ArrayLike, train: ArrayLike, k: int = 1):
    """(distances, indices), each (n, k): every sample's k nearest training examples in
    Euclidean distance over the flattened examples, nearest first; a memorisation check.

    Candidates come from ||x||^2 + ||t||^2 - 2 x.t, one matrix product per block of samples
    (fast, but it loses digits to cancellation); the k + 8 best are then measured directly, so
    a copied example is at distance exactly 0."""
    samples = np.asarray(samples, np.float64).reshape(len(samples), -1)
    train = np.asarray(train, np.float64).reshape(len(train), -1)
    if samples.shape[1] != train.shape[1] or not 1 <= k <= len(train):
        raise ValueError(f"nearest_neighbours: samples {samples.shape} and train {train.shape} "
                         f"do not match, or k = {k} is not in 1..{len(train)}")  # fmt: skip
    norms = np.sum(train**2, axis=1)
    keep = min(k + 8, len(train))
    distances, indices = [], []
    for start in range(0, len(samples), CHUNK):
        x = samples[start : start + CHUNK]
        approximate = norms[None] - 2.0 * x @ train.T  # ||x||^2 is the same along a row
        candidates = np.argpartition(approximate, keep - 1, axis=1)[:, :keep]
        exact = np.linalg.norm(x[:, None] - train[candidates], axis=2)
        order = np.lexsort((candidates, exact), axis=1)[:, :k]  # nearest, then lowest index
        distances.append(np.take_along_axis(exact, order, axis=1))
        indices.append(np.take_along_axis(candidates, order, axis=1))
    return np.concatenate(distances), np.concatenate(indices)
