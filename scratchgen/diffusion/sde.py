"""Forward SDEs dx = f(x, t) dt + g(t) dW on t in [0, T = 1] whose marginals p_t carry the data
to a known prior (Song, Sohl-Dickstein, Kingma, Kumar, Ermon & Poole 2021, "Score-Based
Generative Modeling through Stochastic Differential Equations", section 3.4):

    VP      dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW,                 beta(t) = b0 + t (b1 - b0)
    sub-VP  dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - e^{-2 int_0^t beta})) dW
    VE      dx = sqrt(d sigma^2(t) / dt) dW,                           sigma(t) = s0 (s1 / s0)^t

Their perturbation kernels p_0t(x_t | x_0) are Gaussian, N(m(t) x_0, s(t)^2 I) with

    VP      m = e^{-1/2 int_0^t beta},   s^2 = 1 - m^2
    sub-VP  m = e^{-1/2 int_0^t beta},   s   = 1 - m^2
    VE      m = 1,                       s^2 = sigma(t)^2 - sigma(0)^2

(int_0^t beta = b0 t + (b1 - b0) t^2 / 2), so a network learns the score by denoising score
matching at any t. The VE kernel is the SDE's exact solution started at x_0; the paper's code
takes s = sigma(t) instead, i.e. treats p_0 as the data already blurred by sigma_min, a
difference of sigma_min^2 = 1e-4 in the variance that matters only near t = 0.

Reversing time (Anderson 1982; the paper's eq. 6) with the score s(x, t) = grad log p_t(x):

    dx = [f(x, t) - g(t)^2 s(x, t)] dt + g(t) dW_bar      (run from T down to 0)

and the probability-flow ODE with the same marginals (eq. 13):

    dx/dt = f(x, t) - 1/2 g(t)^2 s(x, t).

Times are float arrays (n,), one per example; x has the examples along its first axis.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Array = np.ndarray
LOG_2PI = math.log(2 * math.pi)


def _column(values: Array, x: Array) -> Array:
    """One number per example, shaped to broadcast against x (n, ...)."""
    return np.asarray(values, np.float64).reshape((-1,) + (1,) * (np.ndim(x) - 1))


class SDE:
    """The shared interface. All three drifts are linear, f(x, t) = c(t) x, so a subclass
    gives c(t) (``drift_coefficient``), g(t) (``diffusion``), the kernel (``marginal``) and the
    prior's scale."""

    T = 1.0
    sampling_eps = 1e-3  # where samplers stop: Song et al.'s code, for VP and sub-VP
    likelihood_eps = 1e-5  # where the ODE likelihood starts (the paper's appendix D.2)
    prior_std = 1.0

    def times(self, t: Any, n: int) -> Array:
        """t as n floats in [0, T], a number broadcast to all n; else one line."""
        t = np.asarray(t, dtype=np.float64)
        t = np.broadcast_to(t, (n,)) if t.ndim == 0 else t
        if t.shape != (n,) or not np.all((t >= 0) & (t <= self.T)):
            raise ValueError(f"{type(self).__name__}: t must be {n} times in [0, {self.T}], "
                             f"got shape {t.shape}")  # fmt: skip
        return t

    def drift_coefficient(self, t: Array) -> Array:
        """c(t) in f(x, t) = c(t) x, one per time."""
        raise NotImplementedError

    def diffusion(self, t: Array) -> Array:
        """g(t), one per time."""
        raise NotImplementedError

    def sde(self, x: Array, t: Any) -> tuple[Array, Array]:
        """The drift f(x, t) = c(t) x, of x's shape, and the diffusion g(t), (n,)."""
        t = self.times(t, len(x))
        return _column(self.drift_coefficient(t), x) * x, self.diffusion(t)

    def marginal(self, x0: Array, t: Any) -> tuple[Array, Array]:
        """The mean m(t) x_0 (x0's shape) and the std s(t) (n,) of p_0t(x_t | x_0)."""
        raise NotImplementedError

    def kernel(self, t: Any) -> tuple[Array, Array]:
        """m(t) and s(t), one each per time: the kernel's scale and std."""
        t = np.atleast_1d(np.asarray(t, np.float64))
        mean, std = self.marginal(np.ones((len(t), 1)), t)
        return mean[:, 0], std

    def corrector_alpha(self, t: Array, dt: float) -> Array:
        """alpha in the Langevin corrector's step (Song et al. 2021, algorithm 5): 1, and for
        VP and sub-VP the discrete step's 1 - beta_i."""
        return np.ones_like(t)

    def marginal_sample(self, x0: Array, t: Any, rng: np.random.Generator) -> tuple[Array, Array]:
        """x_t ~ p_0t(. | x_0) and the noise z with x_t = m x_0 + s z."""
        mean, std = self.marginal(x0, t)
        z = rng.standard_normal(np.shape(x0))
        return mean + _column(std, x0) * z, z

    def prior_sample(self, shape: Any, rng: np.random.Generator) -> Array:
        """x_T ~ N(0, prior_std^2 I), of ``shape`` (n, ...)."""
        return self.prior_std * rng.standard_normal(tuple(np.atleast_1d(shape)))

    def prior_log_prob(self, z: Array) -> Array:
        """log N(z; 0, prior_std^2 I) per example, (n,)."""
        z = np.asarray(z, np.float64)
        flat = z.reshape(len(z), -1)
        D = flat.shape[1]
        return (-0.5 * np.sum(flat**2, axis=1) / self.prior_std**2
                - D * (0.5 * LOG_2PI + math.log(self.prior_std)))  # fmt: skip

    def discretize(self, x: Array, t: Any, dt: float) -> tuple[Array, Array]:
        """The increment f dt and noise scale g sqrt(dt) of one step of length dt at t
        (Euler-Maruyama's; VP and VE override it with their exact discrete chains)."""
        drift, g = self.sde(x, t)
        return drift * dt, g * math.sqrt(dt)

    def reverse_drift(self, x: Array, t: Any, score: Array,
                      probability_flow: bool = False) -> Array:  # fmt: skip
        """f - g^2 s (the reverse SDE, eq. 6), or f - 1/2 g^2 s (the ODE, eq. 13)."""
        drift, g = self.sde(x, t)
        weight = 0.5 if probability_flow else 1.0
        return drift - weight * _column(g**2, x) * score

    def velocity_divergence(self, t: Any, score_divergence: Array, probe: Array | None,
                            dims: int) -> Array:  # fmt: skip
        """The divergence of the ODE's v = c x - 1/2 g^2 s from the score's: c D - 1/2 g^2
        div s exactly (probe None), or c ||z||^2 - 1/2 g^2 z^T (ds/dx) z along a probe z."""
        t = self.times(t, len(score_divergence))
        c, g = self.drift_coefficient(t), self.diffusion(t)
        drift_part = dims if probe is None else np.sum(probe.reshape(len(t), -1) ** 2, axis=1)
        return c * drift_part - 0.5 * g**2 * score_divergence


class VPSDE(SDE):
    """Variance preserving: the continuous limit of DDPM's chain with beta_i = beta(i / N) / N
    (Song et al. 2021, eq. 11), b0 = 0.1 and b1 = 20 for N = 1000 being Ho et al.'s 1e-4 and
    0.02."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0) -> None:
        if not 0 < beta_min < beta_max:
            raise ValueError(f"VPSDE: need 0 < beta_min < beta_max, got {beta_min}, {beta_max}")
        self.beta_min, self.beta_max = beta_min, beta_max

    def __repr__(self) -> str:
        return f"{type(self).__name__}(beta_min={self.beta_min}, beta_max={self.beta_max})"

    def beta(self, t: Array) -> Array:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def integrated_beta(self, t: Array) -> Array:
        """int_0^t beta(s) ds."""
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def drift_coefficient(self, t: Array) -> Array:
        return -0.5 * self.beta(t)

    def diffusion(self, t: Array) -> Array:
        return np.sqrt(self.beta(t))

    def _mean_coefficient(self, t: Array) -> Array:
        return np.exp(-0.5 * self.integrated_beta(t))

    def marginal(self, x0: Array, t: Any) -> tuple[Array, Array]:
        t = self.times(t, len(x0))
        m = self._mean_coefficient(t)
        return _column(m, x0) * x0, np.sqrt(-np.expm1(-self.integrated_beta(t)))

    def discrete_beta(self, t: Array, dt: float) -> Array:
        """beta_i = 1 - exp(-int_{t-dt}^t beta): the DDPM step that is VP's exact transition
        over [t - dt, t]. Song et al.'s code takes beta(t) dt, its first order, which exceeds 1
        (and breaks the sampler) for steps longer than 1 / beta_max = 0.05."""
        return -np.expm1(self.integrated_beta(np.maximum(t - dt, 0)) - self.integrated_beta(t))

    def corrector_alpha(self, t: Array, dt: float) -> Array:
        return 1 - self.discrete_beta(t, dt)

    def discretize(self, x: Array, t: Any, dt: float) -> tuple[Array, Array]:
        """DDPM's step x' = sqrt(1 - beta_i) x + sqrt(beta_i) z, as an increment
        (sqrt(1 - beta_i) - 1) x and a noise scale sqrt(beta_i)."""
        beta_i = self.discrete_beta(self.times(t, len(x)), dt)
        return _column(np.sqrt(1 - beta_i) - 1, x) * x, np.sqrt(beta_i)


class SubVPSDE(VPSDE):
    """Sub-variance preserving: VP's drift with a smaller diffusion, whose marginal variance
    (1 - m^2)^2 stays below VP's (Song et al. 2021, eq. 12); its likelihoods are the paper's
    best. Discretised by Euler-Maruyama."""

    def diffusion(self, t: Array) -> Array:
        return np.sqrt(self.beta(t) * -np.expm1(-2 * self.integrated_beta(t)))

    def marginal(self, x0: Array, t: Any) -> tuple[Array, Array]:
        t = self.times(t, len(x0))
        m = self._mean_coefficient(t)
        return _column(m, x0) * x0, -np.expm1(-self.integrated_beta(t))

    discretize = SDE.discretize


class VESDE(SDE):
    """Variance exploding: the continuous limit of NCSN's noise levels, sigma(t) geometric from
    sigma_min to sigma_max (Song et al. 2021, eq. 9); the prior is N(0, sigma_max^2 I)."""

    sampling_eps = 1e-5  # Song et al.'s code samples VE models down to 1e-5

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0) -> None:
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"VESDE: need 0 < sigma_min < sigma_max, got {sigma_min}, "
                             f"{sigma_max}")  # fmt: skip
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        self.prior_std = sigma_max

    def __repr__(self) -> str:
        return f"VESDE(sigma_min={self.sigma_min}, sigma_max={self.sigma_max})"

    def sigma(self, t: Array) -> Array:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def drift_coefficient(self, t: Array) -> Array:
        return np.zeros_like(t)

    def diffusion(self, t: Array) -> Array:
        return self.sigma(t) * math.sqrt(2 * math.log(self.sigma_max / self.sigma_min))

    def marginal(self, x0: Array, t: Any) -> tuple[Array, Array]:
        t = self.times(t, len(x0))
        log_ratio = math.log(self.sigma_max / self.sigma_min)
        return np.asarray(x0, np.float64), self.sigma_min * np.sqrt(np.expm1(2 * t * log_ratio))

    def discretize(self, x: Array, t: Any, dt: float) -> tuple[Array, Array]:
        """NCSN's step between levels: no drift, noise of variance sigma(t)^2 - sigma(t - dt)^2."""
        t = self.times(t, len(x))
        variance = self.sigma(t) ** 2 - self.sigma(np.maximum(t - dt, 0)) ** 2
        return np.zeros_like(x), np.sqrt(variance)


SDES = {"vp": VPSDE, "subvp": SubVPSDE, "ve": VESDE}
