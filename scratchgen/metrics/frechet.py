"""The Fréchet distance between two Gaussians, and FID: the distance between Gaussians fitted
to two sets of features (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium", 2017).

    d^2(N(mu1, S1), N(mu2, S2)) = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))

It is the squared 2-Wasserstein distance between the two Gaussians. The trace of the square
root is computed without a general matrix square root: with A = S1^(1/2) (symmetric, from an
eigendecomposition), S1 S2 is similar to A S2 A, which is symmetric and positive
semi-definite, so Tr (S1 S2)^(1/2) = sum_i sqrt(lambda_i(A S2 A)). That stays real and finite
when a covariance is singular (fewer samples than dimensions), where ``scipy.linalg.sqrtm`` of
the product returns complex or NaN entries and published code adds eps I and drops imaginary
parts.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike


def _psd_sqrt(S: np.ndarray, name: str) -> np.ndarray:
    """S^(1/2) of a symmetric positive semi-definite S; a clearly negative eigenvalue is an
    error (round-off of size 1e-10 relative is clipped to 0)."""
    w, V = np.linalg.eigh(S)
    if w.min(initial=0.0) < -1e-10 * max(1.0, abs(w).max(initial=0.0)):
        raise ValueError(f"frechet_distance: {name} is not positive semi-definite "
                         f"(eigenvalue {w.min():.3g})")  # fmt: skip
    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T


def _as_gaussian(mu, cov, name: str) -> tuple[np.ndarray, np.ndarray]:
    mu, cov = np.asarray(mu, np.float64), np.asarray(cov, np.float64)
    if mu.ndim != 1 or cov.shape != (len(mu), len(mu)):
        raise ValueError(f"frechet_distance: {name} needs a mean (d,) and a covariance (d, d), "
                         f"got {mu.shape} and {cov.shape}")  # fmt: skip
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(cov))):
        raise ValueError(f"frechet_distance: {name} holds NaN or infinite values")
    if not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12):
        raise ValueError(f"frechet_distance: covariance {name} is not symmetric")
    return mu, (cov + cov.T) / 2


def frechet_distance(mu1: ArrayLike, cov1: ArrayLike, mu2: ArrayLike, cov2: ArrayLike) -> float:
    """||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr (S1 S2)^(1/2), in float64 (see the module
    docstring for how the last trace is computed)."""
    mu1, S1 = _as_gaussian(mu1, cov1, "1")
    mu2, S2 = _as_gaussian(mu2, cov2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(f"frechet_distance: dimensions differ, {len(mu1)} and {len(mu2)}")
    A = _psd_sqrt(S1, "cov1")
    _psd_sqrt(S2, "cov2")  # checks it
    middle = np.linalg.eigvalsh(A @ S2 @ A)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(middle, 0.0, None))))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(S1) + np.trace(S2) - 2.0 * trace_sqrt)


def fid(real_features: ArrayLike, fake_features: ArrayLike) -> float:
    """The Fréchet distance between Gaussians fitted (mean, unbiased covariance) to two sets of
    features (n, d). It is only comparable between scores from the same feature network.
    With fewer examples than feature dimensions the covariances are singular and the estimate
    is badly biased (upwards, and by more for smaller n), so that is warned about."""
    moments = []
    for name, x in (("real", real_features), ("fake", fake_features)):
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"fid: {name}_features must be (n, d) with n >= 2, got {x.shape}")
        if len(x) < x.shape[1]:
            warnings.warn(f"fid: {len(x)} {name} examples for {x.shape[1]} feature dimensions; "
                          "the estimate is badly biased with fewer examples than dimensions",
                          stacklevel=2)  # fmt: skip
        moments.append((x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], -1)))
    (mu1, S1), (mu2, S2) = moments
    return frechet_distance(mu1, S1, mu2, S2)
