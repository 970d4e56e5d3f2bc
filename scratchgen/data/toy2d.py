"""Two-dimensional toy densities, with the exact log-density where one exists.

With an exact log p_data, the KL divergence of a model is read off its test NLL:
KL(p_data || p_model) = E[-log p_model(x)] - H(p_data), and H(p_data) = E[-log p_data(x)]
is estimated on a large sample (``entropy``). Densities:

* eight_gaussians: eight N(c_k, 0.2^2 I), c_k at radius 2 (exact);
* grid25: 25 N(c_k, 0.05^2 I), c_k = (-4 + 2i, -4 + 2j), the grid of the mode-collapse papers
  (VEEGAN, PacGAN) (exact);
* ring8: eight N(c_k, 0.01^2 I), c_k = (cos 2 pi k / 8, sin 2 pi k / 8), their ring (exact);
* checkerboard: uniform on the 8 dark unit squares of a 4x4 board on [-2, 2]^2 (exact);
* rings: radii 0.5, 1, 1.5, 2 with weight proportional to the radius, radial noise N(0, 0.08^2)
  around each circle (exact: the angle integrates to a Bessel function, below);
* two_moons: two half circles of radius 1, noise N(0, 0.1^2 I) (exact up to a 1-D quadrature
  over the angle: 400 Gauss-Legendre nodes agree with 4000 to 2e-11 relative);
* swiss_roll and pinwheel: no closed form.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

LOG_2PI = np.log(2 * np.pi)


def _log_joint(x: np.ndarray, centres: np.ndarray, std: float,
               weights: np.ndarray | None) -> np.ndarray:  # fmt: skip
    """log w_k + log N(x; c_k, std^2 I) for each point (rows) and component (columns)."""
    x, centres = np.asarray(x, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    K, D = centres.shape
    if x.ndim != 2 or x.shape[1] != D:
        raise ValueError(f"gaussian mixture: points must be (n, {D}) like the centres, got "
                         f"{x.shape}")  # fmt: skip
    w = np.full(K, 1 / K) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (K,) or np.any(w < 0) or not np.isclose(w.sum(), 1):
        raise ValueError(f"gaussian mixture: weights must be {K} non-negative numbers summing "
                         f"to 1, got {w}")  # fmt: skip
    squared = np.sum((x[:, None, :] - centres[None]) ** 2, axis=-1)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    return log_w - squared / (2 * std**2) - D / 2 * (LOG_2PI + 2 * np.log(std))


def gaussian_mixture_log_density(x: np.ndarray, centres: np.ndarray, std: float,
                                 weights: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """log p(x) for p = sum_k w_k N(c_k, std^2 I) (equal weights unless given), x (n, D)."""
    return special.logsumexp(_log_joint(x, centres, std, weights), axis=1)


def gaussian_mixture_score(x: np.ndarray, centres: np.ndarray, std: float,
                           weights: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """grad_x log p(x) = sum_k r_k(x) (c_k - x) / std^2, with r_k(x) the posterior of
    component k. The mixture blurred by N(0, sigma^2 I) is the same mixture at
    std^2 + sigma^2, so ``std=np.hypot(std, sigma)`` gives the noised score that
    NCSN-style samplers need, exactly (for checking samplers and score estimators)."""
    r = special.softmax(_log_joint(x, centres, std, weights), axis=1)
    return (r @ np.asarray(centres, dtype=np.float64) - np.asarray(x)) / std**2


_EIGHT_CENTRES = 2 * np.stack(
    [np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1
)


def eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    return _EIGHT_CENTRES[rng.integers(0, 8, n)] + 0.2 * rng.standard_normal((n, 2))


def eight_gaussians_log_density(x: np.ndarray) -> np.ndarray:
    return gaussian_mixture_log_density(x, _EIGHT_CENTRES, 0.2)


_GRID_CENTRES = np.stack(np.meshgrid(np.arange(-4.0, 5, 2), np.arange(-4.0, 5, 2)), -1)
_GRID_CENTRES = _GRID_CENTRES.reshape(-1, 2)


def grid25(n: int, rng: np.random.Generator) -> np.ndarray:
    return _GRID_CENTRES[rng.integers(0, 25, n)] + 0.05 * rng.standard_normal((n, 2))


def grid25_log_density(x: np.ndarray) -> np.ndarray:
    return gaussian_mixture_log_density(x, _GRID_CENTRES, 0.05)


_RING_CENTRES = np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)


def ring8(n: int, rng: np.random.Generator) -> np.ndarray:
    return _RING_CENTRES[rng.integers(0, 8, n)] + 0.01 * rng.standard_normal((n, 2))


def ring8_log_density(x: np.ndarray) -> np.ndarray:
    return gaussian_mixture_log_density(x, _RING_CENTRES, 0.01)


def _dark_square(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    return (ix + iy) % 2 == 0


def checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    squares = np.array([(i, j) for i in range(4) for j in range(4) if _dark_square(i, j)])
    corner = squares[rng.integers(0, len(squares), n)] - 2.0
    return corner + rng.random((n, 2))


def checkerboard_log_density(x: np.ndarray) -> np.ndarray:
    ix, iy = np.floor(x[:, 0] + 2).astype(int), np.floor(x[:, 1] + 2).astype(int)
    inside = (ix >= 0) & (ix < 4) & (iy >= 0) & (iy < 4) & _dark_square(ix, iy)
    return np.where(inside, -np.log(8.0), -np.inf)


_RADII = np.array([0.5, 1.0, 1.5, 2.0])
_RING_WEIGHTS = _RADII / _RADII.sum()
_RING_SIGMA = 0.08


def rings(n: int, rng: np.random.Generator) -> np.ndarray:
    r = _RADII[rng.choice(len(_RADII), n, p=_RING_WEIGHTS)]
    angle = rng.uniform(0, 2 * np.pi, n)
    on_circle = r[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    return on_circle + _RING_SIGMA * rng.standard_normal((n, 2))


def rings_log_density(x: np.ndarray) -> np.ndarray:
    """Averaging N(x; r u(theta), s^2 I) over theta uniform gives
    exp(-(rho^2 + r^2) / 2s^2) I0(r rho / s^2) / (2 pi s^2), rho = |x|; with the scaled
    i0e(z) = e^-z I0(z) this is exp(-(rho - r)^2 / 2s^2) i0e(r rho / s^2) / (2 pi s^2)."""
    rho = np.linalg.norm(x, axis=1)[:, None]
    s2 = _RING_SIGMA**2
    log_terms = (
        np.log(_RING_WEIGHTS)
        - (rho - _RADII) ** 2 / (2 * s2)
        + np.log(special.i0e(rho * _RADII / s2))
        - LOG_2PI
        - np.log(s2)
    )
    return special.logsumexp(log_terms, axis=1)


def _moon_points(angle: np.ndarray, upper: np.ndarray) -> np.ndarray:
    top = np.stack([np.cos(angle), np.sin(angle)], -1)
    bottom = np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], -1)
    return np.where(upper[..., None], top, bottom)


def two_moons(n: int, rng: np.random.Generator) -> np.ndarray:
    points = _moon_points(rng.uniform(0, np.pi, n), rng.random(n) < 0.5)
    return points + 0.1 * rng.standard_normal((n, 2))


def two_moons_log_density(x: np.ndarray, nodes: int = 400, chunk: int = 4096) -> np.ndarray:
    """The average over both moons and over the angle (Gauss-Legendre, ``nodes`` points) of a
    N(0, 0.1^2 I) kernel, evaluated ``chunk`` points at a time to bound memory."""
    t, w = np.polynomial.legendre.leggauss(nodes)
    angle, weight = np.pi / 2 * (t + 1), w / 2  # nodes and weights for the mean over [0, pi]
    centres = np.concatenate(
        [_moon_points(angle, np.full(nodes, upper)) for upper in (True, False)]
    )
    log_weights = np.log(0.5 * np.concatenate([weight, weight])) - LOG_2PI - np.log(0.01)
    out = np.empty(len(x))
    for start in range(0, len(x), chunk):
        squared = np.sum((x[start : start + chunk, None, :] - centres[None]) ** 2, -1)
        out[start : start + chunk] = special.logsumexp(log_weights - squared / 0.02, axis=1)
    return out


def swiss_roll(n: int, rng: np.random.Generator) -> np.ndarray:
    t = rng.uniform(1.5 * np.pi, 4.5 * np.pi, n)
    return np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5 + 0.1 * rng.standard_normal((n, 2))


def pinwheel(n: int, rng: np.random.Generator, arms: int = 5) -> np.ndarray:
    """Gaussian blobs along the x axis, each rotated by its arm's angle plus a twist that grows
    with the radius (the pinwheel of Johnson et al. 2016)."""
    radial = 1.0 + 0.3 * rng.standard_normal(n)
    tangential = 0.05 * rng.standard_normal(n)
    arm = rng.integers(0, arms, n)
    angle = 2 * np.pi * arm / arms + 0.25 * np.exp(radial)
    return np.stack(
        [
            radial * np.cos(angle) - tangential * np.sin(angle),
            radial * np.sin(angle) + tangential * np.cos(angle),
        ],
        1,
    )


TOYS: dict[str, tuple[Callable, Callable | None]] = {
    "eight_gaussians": (eight_gaussians, eight_gaussians_log_density),
    "checkerboard": (checkerboard, checkerboard_log_density),
    "rings": (rings, rings_log_density),
    "two_moons": (two_moons, two_moons_log_density),
    "swiss_roll": (swiss_roll, None),
    "pinwheel": (pinwheel, None),
    "grid25": (grid25, grid25_log_density),
    "ring8": (ring8, ring8_log_density),
}

# The mixtures whose modes are known, as (centres, standard deviation), for metrics.mode_coverage
MODES: dict[str, tuple[np.ndarray, float]] = {
    "eight_gaussians": (_EIGHT_CENTRES, 0.2),
    "grid25": (_GRID_CENTRES, 0.05),
    "ring8": (_RING_CENTRES, 0.01),
}


def entropy(
    log_density: Callable, sampler: Callable, n: int = 200_000, seed: int = 12345
) -> tuple[float, float]:
    """(H, standard error): H(p) = E[-log p(x)] by Monte Carlo on n fresh samples."""
    values = -log_density(sampler(n, np.random.default_rng(seed)))
    return float(values.mean()), float(values.std() / np.sqrt(n))
