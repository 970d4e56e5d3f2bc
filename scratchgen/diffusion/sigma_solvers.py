"""Fast deterministic samplers on the noise level sigma (Karras, Aittala, Aila & Laine 2022,
"Elucidating the Design Space of Diffusion-Based Generative Models", EDM, section 2).

Any Gaussian diffusion x_t = a_t x_0 + b_t eps is, after the change of variable x = x_t / a_t,
the variance-exploding process x = x_0 + sigma eps with sigma = b_t / a_t: for DDPM's levels
sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t). Its probability-flow ODE is (EDM eq. 3 with
s(t) = 1 and sigma(t) = t, and eq. 2's score written with the denoiser D = E[x_0 | x])

    dx / dsigma = (x - D(x; sigma)) / sigma,

so a solver needs only D, the network's x_0 estimate. On a decreasing grid sigma_0 > sigma_1 >
... > sigma_N (sigma_N = 0 for samples; then the last step lands on D itself):

- ``sigma_euler``: x' = x + (sigma' - sigma) (x - D) / sigma, first order. It is DDIM at
  eta = 0 (Song, Meng & Ermon 2021, section 4.3; EDM section 3) on the same levels.
- ``edm_heun``: Euler, then the trapezoidal correction with the slope at the end point (EDM
  algorithm 1), second order, 2N - 1 evaluations (none at sigma = 0).
- ``dpm_solver_pp_2m``: the multistep second-order solver on lambda = -log sigma of Lu et al.
  2022 ("DPM-Solver++", algorithm 2), one evaluation a step.

Each returns x at sigma_N (x_0 when sigma_N = 0), then the states with ``return_trajectory``,
then the number of evaluations with ``return_nfe``. ``karras_sigmas`` is EDM's grid (eq. 5),
``VPDenoiser`` reads a DDPM's eps predictor as D on the schedule's own levels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scratchgen.diffusion.objectives import EpsFn
from scratchgen.diffusion.run import Run, start
from scratchgen.diffusion.schedule import NoiseSchedule

Array = np.ndarray
Denoiser = Callable[[Array, Array], Array]


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> Array:
    """EDM's eq. 5: steps levels from sigma_max down to sigma_min evenly in sigma^(1/rho),

        sigma_i = (sigma_max^(1/rho) + i / (N - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho,

    then sigma_N = 0; rho = 7 spends the steps where the paper found the error largest, near
    the data. Returns steps + 1 numbers."""
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"karras_sigmas: steps must be a positive integer, got {steps!r}")
    if not 0 < sigma_min <= sigma_max:
        raise ValueError(f"karras_sigmas: need 0 < sigma_min <= sigma_max, got {sigma_min} "
                         f"and {sigma_max}")  # fmt: skip
    if rho <= 0:
        raise ValueError(f"karras_sigmas: rho must be positive, got {rho}")
    ramp = np.linspace(0.0, 1.0, steps) if steps > 1 else np.zeros(1)
    top, bottom = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return np.append((top + ramp * (bottom - top)) ** rho, 0.0)


class VPDenoiser:
    """A DDPM's eps_fn(x_t, i) as EDM's denoiser on the schedule's levels sigma_i =
    sqrt((1 - alpha_bar_i) / alpha_bar_i): at x = x_t / sqrt(alpha_bar_i),

        D(x; sigma_i) = x - sigma_i eps_theta(sqrt(alpha_bar_i) x, i),

    (the x_0 estimate of Ho et al. eq. 4, clipped to ``clip`` when given). The network knows
    only its T levels, so a grid is first moved onto them (``snap``); a sigma off the levels is
    refused rather than rounded behind the solver's back."""

    def __init__(self, schedule: NoiseSchedule, eps_fn: EpsFn,
                 clip: tuple[float, float] | None = None) -> None:  # fmt: skip
        self.schedule, self.eps_fn, self.clip = schedule, eps_fn, clip
        self.sigmas = np.sqrt((1 - schedule.alpha_bar) / schedule.alpha_bar)

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    def snap(self, grid: Array) -> Array:
        """The grid's positive levels moved to the nearest of the schedule's (in log sigma),
        repeats dropped, a trailing 0 kept: what the solvers then run on."""
        grid = np.asarray(grid, np.float64)
        positive = grid[grid > 0]
        alpha_bar = 1 / (1 + positive**2)
        levels = np.unique(self.schedule.nearest(alpha_bar))[::-1]
        snapped = self.sigmas[levels]
        return np.append(snapped, 0.0) if np.any(grid == 0) else snapped

    def __call__(self, x: Array, sigma: Array) -> Array:
        sigma = np.asarray(sigma, np.float64).reshape(-1)
        index = np.searchsorted(self.sigmas, sigma)
        index = np.minimum(index, len(self.sigmas) - 1)
        if not np.allclose(self.sigmas[index], sigma, rtol=1e-9, atol=0):
            raise ValueError("VPDenoiser: sigma must be one of the schedule's levels; move the "
                             "grid onto them with snap()")  # fmt: skip
        shape = (-1,) + (1,) * (x.ndim - 1)
        scale = np.sqrt(self.schedule.alpha_bar[index]).reshape(shape)
        eps = np.asarray(self.eps_fn(scale * x, np.broadcast_to(index, (len(x),))), np.float64)
        x0 = x - sigma.reshape(shape) * eps
        return x0 if self.clip is None else np.clip(x0, *self.clip)


def _grid(sigmas: Any, name: str) -> Array:
    sigmas = np.asarray(sigmas, np.float64)
    if sigmas.ndim != 1 or len(sigmas) < 2:
        raise ValueError(f"{name}: sigmas must be a 1-D grid of at least 2 levels")
    if not (np.all(np.diff(sigmas) < 0) and sigmas[-1] >= 0):
        raise ValueError(f"{name}: sigmas must decrease strictly to a last level >= 0")
    return sigmas


def _setup(denoiser: Denoiser, sigmas: Any, shape: Any, rng: np.random.Generator,
           x_T: Array | None, name: str, trajectory: bool) -> tuple[Array, Array, Run]:  # fmt: skip
    """The grid checked, the start x = sigma_0 z (EDM algorithm 1, line 1) unless x_T is
    given, and the counting wrapper of D(x, sigma) with sigma one number per chain."""
    sigmas = _grid(sigmas, name)
    x = start(shape, rng, name, scale=float(sigmas[0]), x_T=x_T)
    return sigmas, x, Run(denoiser, x, name, trajectory)


def _at(run: Run, x: Array, sigma: float) -> Array:
    return run(x, np.full(len(x), sigma))


def sigma_euler(denoiser: Denoiser, shape: Any, rng: np.random.Generator, sigmas: Any,
                x_T: Array | None = None, return_trajectory: bool = False,
                return_nfe: bool = False) -> Any:  # fmt: skip
    """Euler's method on dx/dsigma = (x - D(x; sigma)) / sigma:

        x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (x_i - D(x_i; sigma_i)) / sigma_i,

    DDIM's deterministic update in these variables. N evaluations on N + 1 levels."""
    sigmas, x, run = _setup(denoiser, sigmas, shape, rng, x_T, "sigma_euler", return_trajectory)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        d = (x - _at(run, x, sigma)) / sigma
        x = x + (sigma_next - sigma) * d
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)


def edm_heun(denoiser: Denoiser, shape: Any, rng: np.random.Generator, sigmas: Any,
             x_T: Array | None = None, return_trajectory: bool = False,
             return_nfe: bool = False) -> Any:  # fmt: skip
    """Karras et al. 2022, algorithm 1 (Heun's second-order method, deterministic):

        d_i = (x_i - D(x_i; sigma_i)) / sigma_i,      x' = x_i + (sigma_{i+1} - sigma_i) d_i,
        if sigma_{i+1} > 0:  d' = (x' - D(x'; sigma_{i+1})) / sigma_{i+1},
                             x_{i+1} = x_i + (sigma_{i+1} - sigma_i) (d_i + d') / 2,
        else                 x_{i+1} = x'   (the slope at sigma = 0 is not defined).

    Local error O(h^3), global O(h^2). 2N - 1 evaluations when the grid ends at 0, else 2N."""
    sigmas, x, run = _setup(denoiser, sigmas, shape, rng, x_T, "edm_heun", return_trajectory)
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        d = (x - _at(run, x, sigma)) / sigma
        x_euler = x + (sigma_next - sigma) * d
        if sigma_next > 0:
            d_next = (x_euler - _at(run, x_euler, sigma_next)) / sigma_next
            x = x + (sigma_next - sigma) * (d + d_next) / 2
        else:
            x = x_euler
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)


def dpm_solver_pp_2m(denoiser: Denoiser, shape: Any, rng: np.random.Generator, sigmas: Any,
                     x_T: Array | None = None, return_trajectory: bool = False,
                     return_nfe: bool = False) -> Any:  # fmt: skip
    """Lu et al. 2022, "DPM-Solver++", algorithm 2 (the multistep second-order solver of the
    data-prediction ODE), here with alpha = 1 and lambda = -log sigma, h_i = lambda_{i+1} -
    lambda_i = log(sigma_i / sigma_{i+1}):

        x_{i+1} = (sigma_{i+1} / sigma_i) x_i - (e^{-h_i} - 1) D'_i,
        D'_i    = (1 + 1 / (2 r_i)) D_i - 1 / (2 r_i) D_{i-1},     r_i = h_{i-1} / h_i,

    with D_i = D(x_i; sigma_i). The first step has no D_{i-1} and the last to sigma = 0 no
    finite h, so both take D'_i = D_i (first order; at sigma = 0 that is x_{i+1} = D_i). Each
    step reuses the previous evaluation: N evaluations for N steps."""
    sigmas, x, run = _setup(denoiser, sigmas, shape, rng, x_T, "dpm_solver_pp_2m",
                            return_trajectory)  # fmt: skip
    previous, h_previous = None, None
    for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
        denoised = _at(run, x, sigma)
        if sigma_next == 0:
            x = denoised
        else:
            h = np.log(sigma / sigma_next)
            corrected = denoised
            if previous is not None:
                r = h_previous / h
                corrected = (1 + 1 / (2 * r)) * denoised - previous / (2 * r)
            x = (sigma_next / sigma) * x - np.expm1(-h) * corrected
            h_previous = h
        previous = denoised
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)


SIGMA_SOLVERS = {"sigma_euler": sigma_euler, "edm_heun": edm_heun,
                 "dpm_solver_pp_2m": dpm_solver_pp_2m}  # fmt: skip
