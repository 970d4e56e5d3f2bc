"""Samplers of a discrete-time diffusion model from its noise predictor eps_fn(x, t), t an
integer index array (n,) with index t for step t + 1 (``schedule``'s convention):

- ``ddpm_ancestral``: the reverse Markov chain, T steps (Ho et al. 2020, algorithm 2);
- ``ddim``: the non-Markovian process with the same marginals, on a subsequence of the steps,
  stochastic to any degree eta (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit
  Models", eq. 12), and at eta = 0 deterministic, an ODE's discretisation;
- ``ddim_encode``: that deterministic map run forwards, x_0 to x_T (section 5.4), so that
  ``ddim(..., eta=0, x_T=ddim_encode(...))`` gives x_0 back up to the steps' error.

Each returns the samples (float64, in the space eps_fn works in), then with
``return_trajectory`` the states after every step (the start included), then with
``return_nfe`` the number of eps_fn calls.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchgen.diffusion.objectives import EpsFn, Variance, reverse_parameters
from scratchgen.diffusion.run import Run, start
from scratchgen.diffusion.schedule import NoiseSchedule

Array = np.ndarray


def _x0_hat(schedule: NoiseSchedule, eps: Array, x: Array, t: Array,
            clip: tuple[float, float] | None) -> Array:  # fmt: skip
    x0, _ = schedule.to_x0_eps(eps, x, t)
    return x0 if clip is None else np.clip(x0, *clip)


def ancestral_step(schedule: NoiseSchedule, run: Run, x: Array, index: int,
                   variance: Variance, clip: tuple[float, float] | None,
                   rng: np.random.Generator) -> Array:  # fmt: skip
    """One step of ``ddpm_ancestral``, from x_t at ``index`` (step t = index + 1) to x_{t-1};
    one call of eps_fn, and one draw of z unless this is the last step."""
    t = np.full(len(x), index)
    return step_from_prediction(schedule, run(x, t), x, index, variance, clip, rng, run.name)


def step_from_prediction(schedule: NoiseSchedule, prediction: Any, x: Array, index: int,
                         variance: Variance, clip: tuple[float, float] | None,
                         rng: np.random.Generator, name: str) -> Array:  # fmt: skip
    """``ancestral_step`` given eps_fn's output at (x, index) already (eps, or with a learned
    variance (eps, log sigma^2)), for a solver that needs eps for more than the step."""
    t = np.full(len(x), index)
    eps, log_variance = reverse_parameters(schedule, variance, prediction, x, t, name)
    mean, _ = schedule.posterior(_x0_hat(schedule, eps, x, t, clip), x, t)
    if index == 0:
        return mean
    return mean + np.exp(0.5 * log_variance) * rng.standard_normal(x.shape)


def ddpm_ancestral(schedule: NoiseSchedule, eps_fn: EpsFn, shape: Any, rng: np.random.Generator,
                   variance: Variance = "beta", clip: tuple[float, float] | None = None,
                   x_T: Array | None = None, return_trajectory: bool = False,
                   return_nfe: bool = False) -> Any:  # fmt: skip
    """Ho et al. 2020, algorithm 2: x_T ~ N(0, I), and for t = T, ..., 1

        x_{t-1} = 1 / sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t))
                  + sigma_t z,      z ~ N(0, I) for t > 1, z = 0 at t = 1,

    written here as the posterior mean mu~_t(x0_hat, x_t) at x0_hat = (x_t - sqrt(1 -
    alpha_bar_t) eps_theta) / sqrt(alpha_bar_t), the same number, which lets ``clip`` bound
    x0_hat (to (-1, 1) for images, as the paper's code does). sigma_t^2 = beta_t by default
    (``variance="posterior"``: beta~_t; ``"learned"``: eps_fn returns (eps, log sigma_t^2),
    Nichol & Dhariwal 2021). T calls of eps_fn."""
    x = start(shape, rng, "ddpm_ancestral", x_T=x_T)
    run = Run(eps_fn, x, "ddpm_ancestral", return_trajectory)
    for index in reversed(range(schedule.T)):
        x = ancestral_step(schedule, run, x, index, variance, clip, rng)
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)


def ddim(schedule: NoiseSchedule, eps_fn: EpsFn, shape: Any, rng: np.random.Generator,
         steps: int = 50, eta: float = 0.0, clip: tuple[float, float] | None = None,
         x_T: Array | None = None, return_trajectory: bool = False,
         return_nfe: bool = False) -> Any:  # fmt: skip
    """Song, Meng & Ermon 2021, eq. 12, on the subsequence tau_1 < ... < tau_S of ``steps``
    indices (``schedule.subsequence``), from tau_S = T - 1 down, with a = alpha_bar_{tau_i},
    a' = alpha_bar_{tau_{i-1}} (a' = 1 after tau_1):

        x' = sqrt(a') x0_hat + sqrt(1 - a' - sigma^2) eps_theta(x, tau_i) + sigma z,
        sigma = eta sqrt((1 - a') / (1 - a)) sqrt(1 - a / a')          (eq. 16)

    eta = 1 is DDPM's ancestral step (with sigma^2 = beta~ on the subsequence), eta = 0 a
    deterministic map from x_T to x_0. ``steps`` calls of eps_fn."""
    if eta < 0:
        raise ValueError(f"ddim: eta must be non-negative, got {eta}")
    x = start(shape, rng, "ddim", x_T=x_T)
    run, n = Run(eps_fn, x, "ddim", return_trajectory), len(x)
    tau = schedule.subsequence(steps)
    previous = np.concatenate([[1.0], schedule.alpha_bar[tau[:-1]]])
    for i in reversed(range(len(tau))):
        t = np.full(n, tau[i])
        a, a_prev = schedule.alpha_bar[tau[i]], previous[i]
        eps = run(x, t)
        x0 = _x0_hat(schedule, eps, x, t, clip)
        if clip is not None:  # the direction to x_t consistent with the clipped x0_hat
            eps = (x - np.sqrt(a) * x0) / np.sqrt(1 - a)
        sigma = eta * np.sqrt((1 - a_prev) / (1 - a) * (1 - a / a_prev))
        x = np.sqrt(a_prev) * x0 + np.sqrt(max(1 - a_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            x = x + sigma * rng.standard_normal(x.shape)
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)


def ddim_encode(schedule: NoiseSchedule, eps_fn: EpsFn, x0: Array, steps: int = 50,
                return_trajectory: bool = False, return_nfe: bool = False) -> Any:  # fmt: skip
    """DDIM's deterministic encoder (Song, Meng & Ermon 2021, section 5.4): eq. 12 at eta = 0
    run from x_0 up the subsequence, each step from a = alpha_bar_{tau_i} (1 at the start) to
    a' = alpha_bar_{tau_{i+1}},

        x' = sqrt(a') x0_hat(x, tau) + sqrt(1 - a') eps_theta(x, tau),

    with tau the step being left, or tau_1 from x_0 itself (eps_theta has no clean index), so
    that the decoder's Euler step is retraced backwards. Returns x_T; ``steps`` calls."""
    x = np.array(x0, dtype=np.float64)
    run, n = Run(eps_fn, x, "ddim_encode", return_trajectory), len(x)
    tau = schedule.subsequence(steps)
    for i, index in enumerate(tau):
        t = np.full(n, tau[max(i - 1, 0)])
        a = 1.0 if i == 0 else schedule.alpha_bar[tau[i - 1]]
        eps = run(x, t)
        x0_hat = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
        a_next = schedule.alpha_bar[index]
        x = np.sqrt(a_next) * x0_hat + np.sqrt(1 - a_next) * eps
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)
