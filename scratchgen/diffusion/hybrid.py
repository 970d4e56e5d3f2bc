"""Improved DDPM's hybrid objective (Nichol & Dhariwal 2021, "Improved Denoising Diffusion
Probabilistic Models", section 3.1), which trains the reverse variances with the bound while
L_simple trains the mean:

    L_hybrid = L_simple + lambda L_vlb,    lambda = 0.001                          (eq. 16)

The network returns two maps, a prediction of eps (or x_0, or v) and v, the interpolation
between the two fixed choices of section 3.2 in log space (eq. 15, ``learned_log_variance``).
L_vlb is estimated as T L_t at one uniform t, with L_t the bound's term at that step, in bits
per number as the paper's code has it:

    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || N(mu_theta, sigma_t^2 I))          (t >= 2)
    L_0     = -log p_theta(x_0 | x_1),                                       (t = 1)

so lambda T = T / 1000, the paper code's scaling. The mean mu_theta is held fixed inside L_vlb
("a stop-gradient on mu", section 3.1): the bound moves only the variance.

The decoder L_0 on discrete data is eq. 13's discretised Gaussian, whose normal CDF has no
closed form the engine can differentiate; it takes the tanh approximation
Phi(x) ~ 1/2 (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) (within 2e-4 of Phi everywhere),
as the papers' code does. The bound reported by ``variational_bound`` stays exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.diffusion.objectives import learned_log_variance
from scratchgen.diffusion.schedule import NoiseSchedule

Array = np.ndarray
LOG_FLOOR = 1e-12  # the smallest probability whose log the decoder term takes


def approximate_normal_cdf(x: Tensor) -> Tensor:
    """Phi(x) ~ 1/2 (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), differentiable."""
    return (ad.tanh((x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)) + 1) * 0.5


def _per_example(a: Tensor) -> Tensor:
    return ad.sum(ad.reshape(a, (a.shape[0], -1)), axis=1)


def decoder_nll(x0: Array, mean: Array, log_variance: Tensor, bins: int | None) -> Tensor:
    """-log p_theta(x_0 | x_1) per example (n,), in nats, differentiable in log sigma^2:
    the discretised Gaussian on ``bins`` levels of [-1, 1] (Ho et al. eq. 13, the CDF by its
    tanh approximation), or with ``bins=None`` the density -log N(x_0; mean, sigma^2).
    """
    centred = Tensor((x0 - mean).astype(log_variance.dtype))
    if bins is None:
        return _per_example((centred * centred * ad.exp(-log_variance)
                             + log_variance + math.log(2 * math.pi)) * 0.5)  # fmt: skip
    delta = 1 / (bins - 1)
    inverse_std = ad.exp(log_variance * -0.5)
    cdf_upper = approximate_normal_cdf((centred + delta) * inverse_std)
    cdf_lower = approximate_normal_cdf((centred - delta) * inverse_std)
    mass = ad.where(x0 < -1 + delta, cdf_upper,
                    ad.where(x0 > 1 - delta, 1 - cdf_lower, cdf_upper - cdf_lower))  # fmt: skip
    return -_per_example(ad.log(ad.clip(mass, LOG_FLOOR)))


def vlb_term(schedule: NoiseSchedule, x0: Array, x_t: Array, t: Array, mean: Array,
             log_variance: Tensor, bins: int | None) -> Tensor:  # fmt: skip
    """The bound's term at step index t per example (n,), in nats, for a reverse step
    N(mean, exp(log_variance)) from x_t: the KL from the posterior q(x_{t-1} | x_t, x_0) at
    t >= 1, the decoder's NLL (``decoder_nll``) at t = 0. Differentiable in log_variance;
    the mean is an ndarray, held fixed.
    """
    true_mean, true_var = schedule.posterior(x0, x_t, t)
    first, dtype = t == 0, log_variance.dtype
    true_var = np.where(first.reshape(true_var.shape), 1.0, true_var)  # unused at t = 0
    spread = (true_var + (true_mean - mean) ** 2).astype(dtype)
    kl = (log_variance - np.log(true_var).astype(dtype) + ad.exp(-log_variance) * spread - 1) * 0.5
    return ad.where(first, decoder_nll(x0, mean, log_variance, bins), _per_example(kl))


def hybrid_loss(predict: Callable[[Tensor, Array], tuple[Tensor, Tensor]], x0: Array,
                schedule: NoiseSchedule, rng: np.random.Generator, weight: float = 0.001,
                bins: int | None = None, parametrization: str = "eps",
                t: Array | None = None) -> Tensor:  # fmt: skip
    """L_simple + weight T E_t[L_t] / (D log 2) (Nichol & Dhariwal eq. 16 with the bound in
    bits per number), at one uniform t per example unless given. ``predict`` maps a Tensor
    x_t and t (n,) to the pair (prediction of eps, x_0 or v; v of eq. 15), each of x_0's
    shape; ``bins`` chooses the decoder as ``decoder_nll``. At weight 0 it is L_simple.
    """
    x0 = np.asarray(x0)
    n = len(x0)
    t = rng.integers(0, schedule.T, size=n) if t is None else schedule.index(t, n)
    eps = rng.standard_normal(x0.shape)
    x_t = schedule.q_sample(x0, t, eps).astype(x0.dtype)
    prediction, v = predict(Tensor(x_t), t)
    if prediction.shape != x0.shape or v.shape != x0.shape:
        raise ValueError(f"hybrid_loss: the prediction and v must have the data's shape "
                         f"{x0.shape}, got {prediction.shape} and {v.shape}")  # fmt: skip
    target = schedule.target(x0, eps, t, parametrization).astype(x0.dtype)
    error = prediction - Tensor(target)
    simple = ad.mean(error * error)
    # the mean from the prediction's values alone: the bound's gradient reaches only v
    x0_hat, _ = schedule.to_x0_eps(prediction.data.astype(np.float64), x_t, t, parametrization)
    mean = schedule.posterior(x0_hat, x_t, t)[0]
    bound = vlb_term(schedule, x0.astype(np.float64), x_t, t, mean,
                     learned_log_variance(schedule, v, t), bins)  # fmt: skip
    return simple + ad.mean(bound) * (weight * schedule.T / (x0[0].size * math.log(2)))
