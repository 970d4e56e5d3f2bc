"""Consistency models (Song, Dhariwal, Chen & Sutskever 2023, "Consistency Models"): the
mathematics, apart from any network.

The probability-flow ODE of the variance-exploding process x_sigma = x_0 + sigma z (Karras et
al. 2022, EDM: dx / dsigma = (x - D(x; sigma)) / sigma) carries every point (x_sigma, sigma)
with sigma in [eps, T] to one point x_eps. Its *consistency function* f(x_sigma, sigma) =
x_eps is the same for every point of one trajectory, and f(x, eps) = x. A network learns f
in the form (the paper's eq. 5 and appendix C)

    f_theta(x, sigma) = c_skip(sigma) x + c_out(sigma) F_theta(c_in(sigma) x, sigma),
    c_skip(sigma) = sigma_data^2 / ((sigma - eps)^2 + sigma_data^2),
    c_out(sigma)  = sigma_data (sigma - eps) / sqrt(sigma_data^2 + sigma^2),
    c_in(sigma)   = 1 / sqrt(sigma^2 + sigma_data^2),

so that c_skip(eps) = 1 and c_out(eps) = 0 *exactly*: the boundary condition holds for any
weights, and nothing has to learn it.

Training pulls neighbouring points of one trajectory to the same output, on the grid t_1 =
eps < t_2 < ... < t_N = T (``time_grid``): with n ~ U{1, ..., N - 1} and z ~ N(0, I),

    distillation (eq. 7):  d(f_theta(x + t_{n+1} z, t_{n+1}), f_theta-(x_hat_{t_n}, t_n)),
                            x_hat_{t_n} one step of a teacher's ODE solver from t_{n+1} to t_n;
    training (eq. 10):      d(f_theta(x + t_{n+1} z, t_{n+1}), f_theta-(x + t_n z, t_n)),

with theta- the target network, an average theta- <- mu theta- + (1 - mu) theta after every
update (eq. 8), never differentiated. Training needs no teacher: x + t_n z is one Euler step
of the ODE whose score is the one-sample estimate -(x_{t_{n+1}} - x) / t_{n+1}^2, which equals
the teacher's Euler step on average when f is linear (the paper's theorem 2 in general, up to
o(t_{n+1} - t_n); ``tests`` check the linear case by simulation). Consistency training grows N
and mu during the run (appendix C): ``discretization`` and ``target_decay``.

Sampling (algorithm 1): x = f(T z, T), then for each chosen level tau, renoise and map again,
x = f(x + sqrt(tau^2 - eps^2) z, tau) (``multistep``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from scratchgen.diffusion.sde import _column as column
from scratchgen.diffusion.sigma_solvers import karras_sigmas

Array = np.ndarray
ConsistencyFn = Callable[[Array, Array], Array]


def scalings(sigma: Any, epsilon: float, sigma_data: float) -> tuple[Array, Array, Array]:
    """(c_skip, c_out, c_in) at sigma (any shape) for the boundary eps and the data's scale."""
    sigma = np.asarray(sigma, np.float64)
    c_skip = sigma_data**2 / ((sigma - epsilon) ** 2 + sigma_data**2)
    c_out = sigma_data * (sigma - epsilon) / np.sqrt(sigma_data**2 + sigma**2)
    c_in = 1 / np.sqrt(sigma**2 + sigma_data**2)
    return c_skip, c_out, c_in


def time_grid(N: int, epsilon: float, T: float, rho: float = 7.0) -> Array:
    """t_1 = eps < ... < t_N = T, the paper's levels (section 5, after EDM's eq. 5): t_i =
    (eps^(1/rho) + (i - 1) / (N - 1) (T^(1/rho) - eps^(1/rho)))^rho."""
    if not isinstance(N, (int, np.integer)) or N < 2:
        raise ValueError(f"time_grid: N must be an integer >= 2, got {N!r}")
    grid = karras_sigmas(int(N), epsilon, T, rho)[-2::-1].copy()
    grid[0], grid[-1] = epsilon, T  # exactly: at t_1 the boundary c_out(eps) = 0 must hold
    return grid


def discretization(k: int, K: int, s0: int, s1: int) -> int:
    """Consistency training's number of levels at update k of K (appendix C):

        N(k) = ceil(sqrt(k / K ((s1 + 1)^2 - s0^2) + s0^2) - 1) + 1,

    from s0 at the start to s1 + 1 at k = K (and after): coarse levels first, whose targets
    are biased but of low variance, finer ones later."""
    if K < 1 or not 1 <= s0 <= s1:
        raise ValueError(f"discretization: need K >= 1 and 1 <= s0 <= s1, got K={K}, s0={s0}, "
                         f"s1={s1}")  # fmt: skip
    k = min(k, K)
    return math.ceil(math.sqrt(k / K * ((s1 + 1) ** 2 - s0**2) + s0**2) - 1) + 1


def target_decay(N: int, s0: int, mu0: float) -> float:
    """mu(k) = exp(s0 log(mu0) / N(k)) (appendix C): mu0 at the coarsest grid, nearer 1 as the
    grid refines, so that the target moves more slowly when its steps are small."""
    return math.exp(s0 * math.log(mu0) / N)


def noised_pair(x0: Array, z: Array, t_n: Array, t_next: Array) -> tuple[Array, Array]:
    """(x0 + t_{n+1} z, x0 + t_n z): the online network's input, and consistency training's
    target input (eq. 10; one noise z for both, so the two lie on one line from x0)."""
    return x0 + column(t_next, x0) * z, x0 + column(t_n, x0) * z


def teacher_step(denoiser: Callable[[Array, Array], Array], x: Array, t_from: Array,
                 t_to: Array, heun: Array | bool = True) -> Array:  # fmt: skip
    """x_hat_{t_n}: one step of the probability-flow ODE dx/dt = (x - D(x; t)) / t from t_from
    to t_to (one level per example), Heun's (EDM algorithm 1, the paper's choice for
    distillation) where ``heun`` is True and Euler's elsewhere (a teacher that cannot
    evaluate D at t_to):

        d = (x - D(x; t_from)) / t_from,   x' = x + (t_to - t_from) d,
        x_hat = x + (t_to - t_from) (d + (x' - D(x'; t_to)) / t_to) / 2    (Heun).
    """
    t_from, t_to = np.asarray(t_from, np.float64), np.asarray(t_to, np.float64)
    h = column(t_to - t_from, x)
    d = (x - denoiser(x, t_from)) / column(t_from, x)
    x_euler = x + h * d
    heun = np.broadcast_to(np.asarray(heun, bool), t_to.shape)
    if not heun.any():
        return x_euler
    out = x_euler.copy()
    rows = np.flatnonzero(heun)
    end = x_euler[rows]
    d_end = (end - denoiser(end, t_to[rows])) / column(t_to[rows], end)
    out[rows] = x[rows] + h[rows] * (d[rows] + d_end) / 2
    return out


def multistep(f: ConsistencyFn, shape: Sequence[int], rng: np.random.Generator,
              sigmas: Sequence[float], epsilon: float,
              return_trajectory: bool = False) -> Any:  # fmt: skip
    """Algorithm 1: x = f(sigma_0 z, sigma_0), then for each later sigma_i (decreasing, above
    eps) x = f(x + sqrt(sigma_i^2 - eps^2) z_i, sigma_i). One evaluation per level; with
    ``return_trajectory`` also each evaluation's output."""
    sigmas = np.asarray(sigmas, np.float64)
    if sigmas.ndim != 1 or len(sigmas) < 1:
        raise ValueError("multistep: sigmas must be a 1-D list of at least one level")
    if np.any(np.diff(sigmas) >= 0) or sigmas[-1] <= epsilon:
        raise ValueError(f"multistep: sigmas must decrease strictly and stay above eps = "
                         f"{epsilon:g}, got {sigmas.tolist()}")  # fmt: skip
    shape = tuple(shape)
    x = f(sigmas[0] * rng.standard_normal(shape), np.full(shape[0], sigmas[0]))
    trajectory = [x]
    for sigma in sigmas[1:]:
        noised = x + math.sqrt(sigma**2 - epsilon**2) * rng.standard_normal(shape)
        x = f(noised, np.full(shape[0], sigma))
        trajectory.append(x)
    return (x, trajectory) if return_trajectory else x


def sampling_sigmas(steps: int, epsilon: float, T: float, rho: float = 7.0) -> Array:
    """The levels of a ``steps``-evaluation chain: T and the steps - 1 levels that follow it on
    the rho-spaced grid of steps + 1 levels from T to eps (for 2 steps T and about 2.5 at eps =
    0.002, T = 80), so that the chain renoises less at each evaluation."""
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"sampling_sigmas: steps must be a positive integer, got {steps!r}")
    return karras_sigmas(int(steps) + 1, epsilon, T, rho)[: int(steps)]
