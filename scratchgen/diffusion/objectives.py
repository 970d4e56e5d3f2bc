"""A DDPM's training loss and its variational bound (Ho, Jain & Abbeel 2020).

The reverse process is p_theta(x_{t-1} | x_t) = N(mu_theta(x_t, t), sigma_t^2 I) with the mean
of the posterior q(x_{t-1} | x_t, x_0) at the network's guess of x_0 (eq. 11), and the bound on
the negative log-likelihood (eq. 5) is

    L_vlb = L_T + sum_{t=2}^T L_{t-1} + L_0,
    L_T     = KL(q(x_T | x_0) || N(0, I)),
    L_{t-1} = E_q KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t)),
    L_0     = -E_q log p_theta(x_0 | x_1),

every KL between Gaussians with diagonal covariances, in closed form. With the variances fixed
and eps predicted, L_{t-1} is a weighted ||eps - eps_theta||^2 (eq. 12); dropping the weights
gives L_simple (eq. 14), the loss Ho et al. train with.

sigma_t^2 is beta_t (``variance="beta"``) or beta~_t (``"posterior"``), the two choices of
section 3.2, with beta~_1 = 0 replaced by beta~_2 as in the paper's code, or ``"learned"``:
the network's own interpolation between their logs (Nichol & Dhariwal 2021, "Improved DDPM",
eq. 15), trained by the hybrid loss of ``scratchgen.diffusion.hybrid``. A noise predictor for
a learned variance returns the pair (eps_theta, log sigma_t^2), each of x_t's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from scipy import special

import autodiff as ad
from autodiff import Tensor
from scratchgen.diffusion.run import Run
from scratchgen.diffusion.schedule import NoiseSchedule

Array = np.ndarray
EpsFn = Callable[[Array, Array], Any]  # an array eps, or (eps, log_variance) when learned
Variance = Literal["beta", "posterior", "learned"]
VARIANCES = ("beta", "posterior", "learned")


def reverse_variance(schedule: NoiseSchedule, variance: Variance = "posterior") -> Array:
    """sigma_t^2 at each index: beta_t, or beta~_t with beta~_1 taken as beta~_2."""
    if variance == "beta":
        return schedule.betas
    if variance == "posterior":
        return np.exp(schedule.posterior_log_variance)
    if variance == "learned":
        raise ValueError("diffusion: a learned variance comes from the network, not the schedule")
    raise ValueError(f"diffusion: variance must be one of {VARIANCES}, got {variance!r}")


def learned_log_variance(schedule: NoiseSchedule, v: Any, t: Array) -> Any:
    """log sigma_t^2 = frac log beta_t + (1 - frac) log beta~_t with frac = (v + 1) / 2
    (Nichol & Dhariwal 2021, eq. 15, as their code scales it), elementwise in the network's
    output v (an ndarray or a Tensor, n first), v = -1 giving beta~_t and v = 1 beta_t."""
    shape = (len(t),) + (1,) * (len(v.shape) - 1)
    log_beta = np.log(schedule.betas)[t].reshape(shape).astype(v.dtype)
    log_tilde = schedule.posterior_log_variance[t].reshape(shape).astype(v.dtype)
    return (v + 1) * ((log_beta - log_tilde) / 2) + log_tilde


def reverse_parameters(schedule: NoiseSchedule, variance: Variance, out: Any, x_t: Array,
                       t: Array, name: str) -> tuple[Array, Array]:  # fmt: skip
    """(eps_theta, log sigma_t^2), each of x_t's shape, from what an eps_fn returned: eps
    alone under a fixed variance, the pair under ``"learned"``."""
    if variance == "learned":
        if not (isinstance(out, tuple) and len(out) == 2):
            raise ValueError(f"{name}: with variance='learned' eps_fn must return the pair "
                             f"(eps, log_variance)")  # fmt: skip
        return out
    if isinstance(out, tuple):
        raise ValueError(f"{name}: eps_fn returned a pair; pass variance='learned' to use it")
    log_variance = np.log(reverse_variance(schedule, variance))[t]
    return out, np.broadcast_to(log_variance.reshape((-1,) + (1,) * (x_t.ndim - 1)), x_t.shape)


def simple_loss(predict: Callable[[Tensor, Array], Any], x0: Array, schedule: NoiseSchedule,
                rng: np.random.Generator, parametrization: str = "eps",
                t: Array | None = None) -> Tensor:  # fmt: skip
    """L_simple = E_{t, x_0, eps} ||target - f_theta(x_t, t)||^2 (Ho et al. eq. 14), the mean
    over examples and over each example's numbers, with t uniform over the T steps unless
    given, eps ~ N(0, I), x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, and the
    target eps, x_0 or v as ``parametrization`` says. ``predict`` maps a Tensor x_t and the
    indices t (n,) to the prediction (a Tensor, differentiable in the network's weights)."""
    x0 = np.asarray(x0)
    n = len(x0)
    t = rng.integers(0, schedule.T, size=n) if t is None else schedule.index(t, n)
    eps = rng.standard_normal(x0.shape)
    x_t = schedule.q_sample(x0, t, eps).astype(x0.dtype)
    target = schedule.target(x0, eps, t, parametrization).astype(x0.dtype)
    prediction = ad.as_constant(predict(Tensor(x_t), t))
    if prediction.shape != x0.shape:
        raise ValueError(f"simple_loss: the prediction must have the data's shape {x0.shape}, "
                         f"got {prediction.shape}")  # fmt: skip
    error = prediction - Tensor(target)
    return ad.mean(error * error)


def _per_example(a: Array) -> Array:
    return a.reshape(len(a), -1).sum(axis=1)


def gaussian_kl(mean_1: Array, var_1: Array, mean_2: Array, var_2: Array) -> Array:
    """KL(N(mean_1, var_1 I) || N(mean_2, var_2 I)) per example, summed over its numbers:
    1/2 (log(var_2 / var_1) + (var_1 + (mean_1 - mean_2)^2) / var_2 - 1)."""
    var_1, var_2 = np.broadcast_to(var_1, mean_1.shape), np.broadcast_to(var_2, mean_1.shape)
    return _per_example(0.5 * (np.log(var_2 / var_1) + (var_1 + (mean_1 - mean_2) ** 2) / var_2
                               - 1))  # fmt: skip


def _log_normal_mass(lower: Array, upper: Array) -> Array:
    """log(Phi(upper) - Phi(lower)), computed on the side of zero where it does not cancel."""
    flip = lower > 0
    lo, hi = np.where(flip, -upper, lower), np.where(flip, -lower, upper)
    log_hi, log_lo = special.log_ndtr(hi), special.log_ndtr(lo)
    with np.errstate(divide="ignore"):
        return log_hi + np.log1p(-np.exp(log_lo - log_hi))


def discretized_gaussian_log_likelihood(x: Array, mean: Array, std: Array, bins: int) -> Array:
    """log P(x) per example for data on ``bins`` levels evenly spread over [-1, 1], each level
    the Gaussian's mass over its cell [x - delta, x + delta], delta = 1 / (bins - 1), the end
    cells reaching to -inf and +inf (Ho et al. eq. 13)."""
    level = (np.asarray(x, np.float64) + 1) * (bins - 1) / 2
    if np.any(np.abs(level - np.round(level)) > 1e-4) or level.min() < -1e-4 \
            or level.max() > bins - 1 + 1e-4:  # fmt: skip
        raise ValueError(f"discretized decoder: the data must lie on {bins} levels evenly "
                         f"spread over [-1, 1]")  # fmt: skip
    std = np.broadcast_to(std, mean.shape)
    delta = 1 / (bins - 1)
    upper = np.where(x > 1 - delta, np.inf, (x + delta - mean) / std)
    lower = np.where(x < -1 + delta, -np.inf, (x - delta - mean) / std)
    return _per_example(_log_normal_mass(lower, upper))


def variational_bound(schedule: NoiseSchedule, eps_fn: EpsFn, x0: Array,
                      rng: np.random.Generator, decoder: Literal["discretized", "gaussian"]
                      = "discretized", bins: int = 256,
                      variance: Variance = "posterior") -> dict[str, Array]:  # fmt: skip
    """L_vlb and its parts per example, in nats (shape (n,) each): ``prior`` L_T,
    ``diffusion`` sum_{t>=2} L_{t-1} (one draw of x_t per step), ``decoder`` L_0, and
    ``total``. The decoder is the discretised Gaussian of eq. 13 for data on ``bins`` levels
    of [-1, 1], whose total bounds the discrete -log P(x), or ``"gaussian"``,
    -log N(x_0; mu, sigma_1^2), whose total bounds a continuous -log p(x). With
    ``variance="learned"`` eps_fn returns (eps, log sigma_t^2). It costs T calls of eps_fn on
    the n examples."""
    if decoder not in ("discretized", "gaussian"):
        raise ValueError(f"variational_bound: decoder must be 'discretized' or 'gaussian', "
                         f"got {decoder!r}")  # fmt: skip
    x0 = np.asarray(x0, np.float64)
    n, run = len(x0), Run(eps_fn, x0, "variational_bound", trajectory=False)

    def reverse_step(x_t: Array, t: Array) -> tuple[Array, Array]:
        """The mean and variance of p_theta(x_{t-1} | x_t)."""
        eps, log_variance = reverse_parameters(schedule, variance, run(x_t, t), x_t, t,
                                               "variational_bound")  # fmt: skip
        x0_hat, _ = schedule.to_x0_eps(eps, x_t, t)
        return schedule.posterior(x0_hat, x_t, t)[0], np.exp(log_variance)

    last = np.full(n, schedule.T - 1)
    mean_T, std_T = schedule.q_mean_std(x0, last)
    prior = gaussian_kl(mean_T, std_T**2, np.zeros_like(x0), 1.0)
    diffusion = np.zeros(n)
    for index in range(1, schedule.T):
        t = np.full(n, index)
        x_t = schedule.q_sample(x0, t, rng.standard_normal(x0.shape))
        true_mean, true_var = schedule.posterior(x0, x_t, t)
        diffusion += gaussian_kl(true_mean, true_var, *reverse_step(x_t, t))
    t = np.zeros(n, dtype=np.int64)
    x_1 = schedule.q_sample(x0, t, rng.standard_normal(x0.shape))
    mean, sigma2 = reverse_step(x_1, t)
    std = np.sqrt(sigma2)
    if decoder == "discretized":
        nll_0 = -discretized_gaussian_log_likelihood(x0, mean, std, bins)
    else:
        nll_0 = _per_example(0.5 * ((x0 - mean) / std) ** 2 + np.log(std) + 0.5 * np.log(2 * np.pi))
    return {"prior": prior, "diffusion": diffusion, "decoder": nll_0,
            "total": prior + diffusion + nll_0}  # fmt: skip
