"""The discrete-time forward process of a diffusion model and its closed forms (Ho, Jain &
Abbeel 2020, "Denoising Diffusion Probabilistic Models", section 2):

    q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I),            alpha_t = 1 - beta_t
    q(x_t | x_0)     = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),  alpha_bar_t = prod alpha_s

so x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps with eps ~ N(0, I) (eq. 4), and the
posterior given the clean point is Gaussian too (eqs. 6-7):

    q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I),
    mu~_t   = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) x_0
              + sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) x_t,
    beta~_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t.

Indices: arrays have length T and index t = 0 .. T-1 holds step t + 1 (DESIGN.md), so
alpha_bar[0] = alpha_1 and "alpha_bar_{t-1}" at index 0 is alpha_bar_0 = 1 (the data itself).

A network may predict eps, x_0 or v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x_0 (Salimans &
Ho 2022, "Progressive Distillation", section 4); with x_t fixed any one gives the other two.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

Array = np.ndarray
PARAMETRIZATIONS = ("eps", "x0", "v")


class NoiseSchedule:
    """beta_1 .. beta_T and everything derived from them, in float64.

    ``kind="linear"``: betas evenly from ``beta_start`` = 1e-4 to ``beta_end`` = 0.02 (Ho et al.
    2020, section 4, for T = 1000; for other T the ends are rescaled by 1000 / T, as in Nichol
    & Dhariwal's code, so that alpha_bar_T stays near zero). ``kind="cosine"`` (Nichol &
    Dhariwal 2021, "Improved DDPM", eq. 17):

        alpha_bar_t = f(t) / f(0),   f(t) = cos^2(pi/2 (t / T + s) / (1 + s)),   s = 0.008

    with beta_t = 1 - alpha_bar_t / alpha_bar_{t-1} clipped at ``max_beta`` = 0.999 to avoid
    the singularity at t = T.
    """

    def __init__(self, kind: Literal["linear", "cosine"] = "linear", steps: int = 1000,
                 beta_start: float = 1e-4, beta_end: float = 0.02, s: float = 0.008,
                 max_beta: float = 0.999) -> None:  # fmt: skip
        if kind not in ("linear", "cosine"):
            raise ValueError(f"NoiseSchedule: kind must be 'linear' or 'cosine', got {kind!r}")
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"NoiseSchedule: steps must be a positive integer, got {steps!r}")
        self.kind, self.T = kind, int(steps)
        if kind == "linear":
            scale = 1000 / self.T
            betas = np.linspace(beta_start * scale, beta_end * scale, self.T)
        else:
            f = np.cos(np.pi / 2 * (np.arange(self.T + 1) / self.T + s) / (1 + s)) ** 2
            betas = np.minimum(1 - f[1:] / f[:-1], max_beta)
        if not (np.all(betas > 0) and np.all(betas < 1)):
            raise ValueError(f"NoiseSchedule: every beta must lie in (0, 1); with {steps} steps "
                             f"they run from {betas.min():.3g} to {betas.max():.3g}")  # fmt: skip
        self._derive(betas)

    def _derive(self, betas: Array) -> None:
        """Everything the closed forms use, from beta_1 .. beta_T."""
        self.betas = betas
        self.alphas = 1 - betas
        self.alpha_bar = np.cumprod(self.alphas)
        self.alpha_bar_prev = np.concatenate([[1.0], self.alpha_bar[:-1]])
        self.posterior_variance = betas * (1 - self.alpha_bar_prev) / (1 - self.alpha_bar)
        # beta~_1 = 0: the log takes beta~_2 there, as Ho et al.'s code does, for a finite L_0
        self.posterior_log_variance = np.log(np.append(self.posterior_variance[1],
                                                       self.posterior_variance[1:]))  # fmt: skip

    def __repr__(self) -> str:
        return f"NoiseSchedule(kind={self.kind!r}, steps={self.T})"

    # ------------------------------------------------------------ indices
    def index(self, t: Any, n: int) -> Array:
        """t as n integer indices in [0, T), a number broadcast to all n; else one line."""
        t = np.asarray(t)
        if not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"NoiseSchedule: t must be integer indices 0 .. {self.T - 1}, "
                             f"got dtype {t.dtype}")  # fmt: skip
        t = np.broadcast_to(t, (n,)) if t.ndim == 0 else t
        if t.shape != (n,) or t.min() < 0 or t.max() >= self.T:
            raise ValueError(f"NoiseSchedule: t must be {n} indices in 0 .. {self.T - 1}, got "
                             f"shape {t.shape}, range {t.min()} .. {t.max()}")  # fmt: skip
        return t

    def at(self, values: Array, t: Any, x: Array) -> Array:
        """values[t], one per example, shaped to broadcast against x (n, ...)."""
        x = np.asarray(x)
        return values[self.index(t, len(x))].reshape((-1,) + (1,) * (x.ndim - 1))

    # ------------------------------------------------------------ q(x_t | x_0)
    def q_mean_std(self, x0: Array, t: Any) -> tuple[Array, Array]:
        """The mean sqrt(alpha_bar_t) x_0 and the std sqrt(1 - alpha_bar_t) of q(x_t | x_0)."""
        a, b = self._coefficients(t, x0)
        return a * x0, b

    def q_sample(self, x0: Array, t: Any, eps: Array) -> Array:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps (Ho et al. eq. 4)."""
        mean, std = self.q_mean_std(x0, t)
        return mean + std * eps

    def posterior(self, x0: Array, x_t: Array, t: Any) -> tuple[Array, Array]:
        """The mean mu~_t and variance beta~_t of q(x_{t-1} | x_t, x_0) (Ho et al. eq. 7),
        the variance one per example; at index 0 the mean is x_0 and the variance 0."""
        ab, ab_prev = self.at(self.alpha_bar, t, x_t), self.at(self.alpha_bar_prev, t, x_t)
        beta, alpha = self.at(self.betas, t, x_t), self.at(self.alphas, t, x_t)
        mean = (np.sqrt(ab_prev) * beta * x0 + np.sqrt(alpha) * (1 - ab_prev) * x_t) / (1 - ab)
        return mean, self.at(self.posterior_variance, t, x_t)

    # ------------------------------------------------------------ parametrisations
    @staticmethod
    def _check(parametrization: str) -> None:
        if parametrization not in PARAMETRIZATIONS:
            raise ValueError(f"NoiseSchedule: parametrization must be one of "
                             f"{PARAMETRIZATIONS}, got {parametrization!r}")  # fmt: skip

    def _coefficients(self, t: Any, x: Array) -> tuple[Array, Array]:
        """sqrt(alpha_bar_t) and sqrt(1 - alpha_bar_t), shaped against x."""
        return self.at(np.sqrt(self.alpha_bar), t, x), self.at(np.sqrt(1 - self.alpha_bar), t, x)

    def to_x0_eps(self, prediction: Array, x_t: Array, t: Any,
                  parametrization: str = "eps") -> tuple[Array, Array]:  # fmt: skip
        """(x_0, eps) from a network's prediction of eps, x_0 or v at x_t (ab = alpha_bar_t):

        x_0 = (x_t - sqrt(1 - ab) eps) / sqrt(ab)        (from eps; Ho et al. eq. 4)
        eps = (x_t - sqrt(ab) x_0) / sqrt(1 - ab)        (from x_0)
        x_0 = sqrt(ab) x_t - sqrt(1 - ab) v,  eps = sqrt(1 - ab) x_t + sqrt(ab) v   (from v)
        """
        self._check(parametrization)
        a, b = self._coefficients(t, x_t)
        if parametrization == "eps":
            return (x_t - b * prediction) / a, prediction
        if parametrization == "x0":
            return prediction, (x_t - a * prediction) / b
        return a * x_t - b * prediction, b * x_t + a * prediction

    def target(self, x0: Array, eps: Array, t: Any, parametrization: str = "eps") -> Array:
        """What a network of the given parametrisation regresses on: eps, x_0, or
        v = sqrt(ab) eps - sqrt(1 - ab) x_0."""
        self._check(parametrization)
        if parametrization == "eps":
            return eps
        if parametrization == "x0":
            return x0
        a, b = self._coefficients(t, x0)
        return a * eps - b * x0

    def snr(self) -> Array:
        """The signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t) at each step."""
        return self.alpha_bar / (1 - self.alpha_bar)

    def subsequence(self, steps: int) -> Array:
        """``steps`` indices from 0 to T - 1, evenly spaced and rounded (DDIM's tau; the last
        is T - 1 so that sampling starts from the prior's step)."""
        if not 1 <= steps <= self.T:
            raise ValueError(f"NoiseSchedule: steps must lie in 1 .. {self.T}, got {steps}")
        tau = np.unique(np.round(np.linspace(0, self.T - 1, steps)).astype(np.int64))
        return tau if steps > 1 else np.array([self.T - 1])

    def nearest(self, alpha_bar: Any) -> Array:
        """The step index whose alpha_bar_t is nearest each given one, in log (the scale on
        which the levels are spread); beyond the ends, the end's."""
        log = np.log(np.clip(np.asarray(alpha_bar, np.float64), 1e-300, 1.0))
        return np.argmin(np.abs(np.log(self.alpha_bar)[None, :] - log.reshape(-1, 1)), axis=1)

    def respaced(self, steps: int) -> tuple[NoiseSchedule, Array]:
        """The forward process seen at ``steps`` of its levels only, tau = ``subsequence``, as
        a schedule of its own (Nichol & Dhariwal 2021, "Improved DDPM", section 4):

            alpha_bar'_i = alpha_bar_{tau_i},
            beta'_i = 1 - alpha_bar_{tau_i} / alpha_bar_{tau_{i-1}}   (alpha_bar_{tau_0 - 1} = 1),

        so that q(x_i' | x_0) is q(x_{tau_i} | x_0) and a network trained on the T levels runs
        any chain of the new schedule when called at tau_i instead of i. Returns the schedule
        and tau (the network's index for each new one)."""
        tau = self.subsequence(steps)
        alpha_bar = self.alpha_bar[tau]
        schedule = NoiseSchedule.__new__(NoiseSchedule)  # its betas are given, not a kind's
        schedule.kind, schedule.T = self.kind, len(tau)
        schedule._derive(1 - alpha_bar / np.concatenate([[1.0], alpha_bar[:-1]]))
        return schedule, tau
