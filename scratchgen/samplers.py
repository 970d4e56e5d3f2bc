"""MCMC on plain functions of ndarrays: Langevin dynamics (unadjusted, or Metropolis-adjusted
when the log-density is given), annealed Langevin dynamics over noise levels, and Hamiltonian
Monte Carlo (annealed importance sampling, built on it, is in ``scratchgen.metrics.ais``).

Every sampler runs a batch of independent chains at once: x has shape (n, D), or (n, C, H, W)
for images (anything with the chains along the first axis); a score or gradient maps x to an
array of x's shape, a log-density maps x to (n,). Norms and inner products are over all of an
example's numbers. Randomness comes only from the ``rng`` passed in; the chains keep x0's
dtype when it is float32 (an image network's), and are float64 otherwise.

With ``return_trajectory=True`` a sampler also returns the states after each step, shape
(steps + 1, *x.shape), the start included (for 1000 steps of 64 MNIST images that is 400 MB
in float64: ask for it on few chains). With ``return_diagnostics=True`` it also returns a dict
of per-step arrays, each of length ``steps``:

- ``step_size``: epsilon at that step;
- ``acceptance``: the fraction of chains that moved (1 without a Metropolis correction);
- ``grad_norm``: the mean over chains of ||score(x)|| at the step's start;
- ``snr``: the mean of sqrt(epsilon / 2) ||score(x)|| / ||z|| over chains, the signal-to-noise
  ratio r that Song et al. 2021 (algorithm 4) set to choose the corrector's epsilon: the
  drift's length against the noise's is r / sqrt(2).

The return value is x, then the trajectory if asked, then the diagnostics if asked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Array = np.ndarray
Score = Callable[[Array], Array]
LogDensity = Callable[[Array], Array]


def _chains(x0: Array, name: str) -> Array:
    x = np.array(x0, dtype=np.float32 if np.asarray(x0).dtype == np.float32 else np.float64)
    if x.ndim < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: x0 must be finite chains of shape (n, D) or (n, C, H, W), "
                         f"got {x.shape}")  # fmt: skip
    return x


def _per_chain_sum(a: Array) -> Array:
    """sum over all of each chain's numbers: (n, ...) -> (n,)"""
    return a.reshape(len(a), -1).sum(axis=1)


def _norms(a: Array) -> Array:
    return np.sqrt(_per_chain_sum(a * a))


def _where(keep: Array, a: Array, b: Array) -> Array:
    """a where keep (one flag per chain), b elsewhere"""
    return np.where(keep.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)


def _score(score: Callable[..., Array], x: Array, name: str, *args) -> Array:
    s = np.asarray(score(x, *args), dtype=x.dtype)
    if s.shape != x.shape:
        raise ValueError(f"{name}: the score must have the chains' shape {x.shape}, got {s.shape}")
    return s


def _accept(log_alpha: Array, rng: np.random.Generator) -> Array:
    """Metropolis: accept with probability min(1, exp(log_alpha)); a NaN is a rejection."""
    return np.log(rng.uniform(size=log_alpha.shape)) < log_alpha


class _Record:
    """The trajectory and the per-step diagnostics, kept only when asked for."""

    def __init__(self, x: Array, trajectory: bool, diagnostics: bool) -> None:
        self.states = [x.copy()] if trajectory else None
        self.columns = ({k: [] for k in ("step_size", "acceptance", "grad_norm", "snr")}
                        if diagnostics else None)  # fmt: skip

    def step(self, x: Array, step_size: float, moved: float, s: Array, z: Array) -> None:
        if self.states is not None:
            self.states.append(x.copy())
        if self.columns is not None:
            norm_s = _norms(s)
            snr = np.sqrt(step_size / 2) * norm_s / np.maximum(_norms(z), 1e-300)
            for key, value in zip(self.columns, (step_size, moved, norm_s.mean(), snr.mean())):
                self.columns[key].append(float(value))

    def finish(self, x: Array, **more: Sequence[float]):
        out = [x]
        if self.states is not None:
            out.append(np.stack(self.states))
        if self.columns is not None:
            out.append({k: np.asarray(v) for k, v in {**self.columns, **more}.items()})
        return out[0] if len(out) == 1 else tuple(out)


def langevin(score: Score, x0: Array, step_size: float, steps: int, rng: np.random.Generator,
             log_prob: LogDensity | None = None, return_trajectory: bool = False,
             return_diagnostics: bool = False,
             bounds: tuple[float, float] | None = None):  # fmt: skip
    """Langevin dynamics with step size epsilon:

        x' = x + (epsilon / 2) score(x) + sqrt(epsilon) z,     z ~ N(0, I)

    the Euler-Maruyama step of dx = (1/2) grad log p(x) dt + dW, whose stationary law is p.
    The step size fixes the noise: the drift moves by epsilon / 2 times the score and the noise
    by sqrt(epsilon), the pairing under which p is stationary as epsilon -> 0. Much published
    EBM code sets the two apart, x' = x + lambda grad log p(x) + sigma z (lambda = 10 with
    sigma = 0.005, say). That is this update with epsilon = sigma^2 on the tempered target
    p^(1/T), T = sigma^2 / (2 lambda): here T = 1.25e-6, a target colder than p by six orders
    of magnitude, whose chains seek modes instead of sampling p.

    Unadjusted (log_prob None), the chain's law is biased by O(epsilon): for a Gaussian target
    N(0, s^2) its stationary variance is s^2 / (1 - epsilon / (4 s^2)). With ``log_prob`` the
    step is a proposal accepted with probability (Metropolis-adjusted Langevin, MALA; Roberts
    & Tweedie, "Exponential convergence of Langevin distributions", 1996)

        min(1, p(x') q(x | x') / (p(x) q(x' | x))),  q(x' | x) = N(x' ; x + (eps/2) score(x), eps I)

    which makes p exactly stationary. ``bounds=(low, high)`` clips every unadjusted step into
    the box (projected Langevin, as short-run EBM chains on images in [-1, 1] do); the clipped
    chain's law is no longer p's near the walls, and MALA refuses it."""
    x = _chains(x0, "langevin")
    if not step_size > 0 or steps < 0:
        raise ValueError(f"langevin: need step_size > 0 and steps >= 0, got {step_size}, {steps}")
    if bounds is not None and (log_prob is not None or not bounds[0] < bounds[1]):
        raise ValueError(f"langevin: bounds must be (low, high) with low < high, and come "
                         f"without log_prob (MALA assumes no clipping), got {bounds}")  # fmt: skip
    record = _Record(x, return_trajectory, return_diagnostics)
    s = _score(score, x, "langevin")
    lp = None if log_prob is None else log_prob(x)
    for _ in range(steps):
        mean = x + 0.5 * step_size * s
        z = rng.standard_normal(x.shape, dtype=x.dtype)
        proposal = mean + math.sqrt(step_size) * z
        if bounds is not None:
            np.clip(proposal, bounds[0], bounds[1], out=proposal)
        s_old, s_new = s, _score(score, proposal, "langevin")
        if log_prob is None:
            x, s, moved = proposal, s_new, 1.0
        else:
            lp_new = log_prob(proposal)
            back = x - proposal - 0.5 * step_size * s_new  # x' -> x under the reverse proposal
            log_q_back = -_per_chain_sum(back**2) / (2 * step_size)
            log_q_forward = -_per_chain_sum(z**2) / 2
            accept = _accept(lp_new - lp + log_q_back - log_q_forward, rng)
            x, s = _where(accept, proposal, x), _where(accept, s_new, s)
            lp, moved = np.where(accept, lp_new, lp), accept.mean()
        record.step(x, step_size, moved, s_old, z)
    return record.finish(x)


def annealed_langevin(score: Callable[[Array, float], Array], sigmas: Sequence[float],
                      eps: float, steps_per_level: int, x0: Array, rng: np.random.Generator,
                      denoise: bool = True, return_trajectory: bool = False,
                      return_diagnostics: bool = False):  # fmt: skip
    """Annealed Langevin dynamics (Song & Ermon, "Generative Modeling by Estimating Gradients
    of the Data Distribution", 2019, algorithm 1): for each noise level sigma_1 > ... > sigma_L
    in turn, T = ``steps_per_level`` Langevin steps on the noised data's score s(x, sigma_i)
    with the step size

        alpha_i = eps sigma_i^2 / sigma_L^2,
        x <- x + (alpha_i / 2) s(x, sigma_i) + sqrt(alpha_i) z

    so that a step's drift against its noise, sqrt(alpha_i) ||s|| / (2 ||z||), is the same at
    every level (||s|| is about sqrt(D) / sigma_i). The chains end near the data blurred by the
    smallest noise, sigma_L; with ``denoise`` a last step x + sigma_L^2 s(x, sigma_L), Tweedie's
    formula for E[x_0 | x] (Song & Ermon, "Improved Techniques for Training Score-Based
    Generative Models", 2020, appendix C.2), removes it. The trajectory then has one state
    more, the denoised one, at its end; the diagnostics cover the Langevin steps, and
    ``sigma`` gives each step's level.

    ``score(x, sigma)`` takes the chains and the level as a float; the original paper's
    settings for images are eps = 2e-5 and T = 100 with 10 levels from 1 down to 0.01."""
    x = _chains(x0, "annealed_langevin")
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.ndim != 1 or len(sigmas) == 0 or not np.all(sigmas > 0):
        raise ValueError("annealed_langevin: sigmas must be a non-empty list of positive levels")
    if np.any(np.diff(sigmas) >= 0):
        raise ValueError("annealed_langevin: sigmas must decrease, from the largest level")
    if not eps > 0 or steps_per_level < 1:
        raise ValueError(f"annealed_langevin: need eps > 0 and steps_per_level >= 1, got {eps}, "
                         f"{steps_per_level}")  # fmt: skip
    record = _Record(x, return_trajectory, return_diagnostics)
    levels, sigma_L = [], float(sigmas[-1])
    for sigma in map(float, sigmas):  # Python floats, so that float32 chains stay float32
        alpha = eps * (sigma / sigma_L) ** 2
        for _ in range(steps_per_level):
            s = _score(score, x, "annealed_langevin", sigma)
            z = rng.standard_normal(x.shape, dtype=x.dtype)
            x = x + 0.5 * alpha * s + math.sqrt(alpha) * z
            record.step(x, alpha, 1.0, s, z)
            levels.append(sigma)
    if denoise:
        x = x + sigma_L**2 * _score(score, x, "annealed_langevin", sigma_L)
        if record.states is not None:
            record.states.append(x.copy())
    return record.finish(x, sigma=levels)


def hmc(log_prob_and_grad: Callable[[Array], tuple[Array, Array]], x0: Array, step_size: float,
        leapfrog_steps: int, rng: np.random.Generator, steps: int = 1,
        return_trajectory: bool = False, return_diagnostics: bool = False):  # fmt: skip
    """Hamiltonian Monte Carlo (Neal, "MCMC using Hamiltonian dynamics", 2011): each of
    ``steps`` transitions draws a momentum p ~ N(0, I), runs L leapfrog steps of the dynamics
    of H(x, p) = -log p(x) + ||p||^2 / 2,

        p <- p + (eps/2) grad log p(x);  x <- x + eps p;  p <- p + (eps/2) grad log p(x)

    and accepts the end point with probability min(1, exp(H(x, p) - H(x', p'))). The leapfrog
    map is volume-preserving and reversible, so the target is exactly stationary.
    ``log_prob_and_grad(x)`` returns (log p(x) up to a constant, (n,); its gradient, of x's
    shape). The diagnostics' ``snr`` takes the momentum for z."""
    x = _chains(x0, "hmc")
    if not step_size > 0 or leapfrog_steps < 1 or steps < 0:
        raise ValueError("hmc: need step_size > 0, leapfrog_steps >= 1 and steps >= 0")
    lp, g = log_prob_and_grad(x)
    record = _Record(x, return_trajectory, return_diagnostics)
    for _ in range(steps):
        p = rng.standard_normal(x.shape, dtype=x.dtype)
        x_new, p_new, g_new = x, p + 0.5 * step_size * g, g
        for step in range(leapfrog_steps):
            x_new = x_new + step_size * p_new
            lp_new, g_new = log_prob_and_grad(x_new)
            kick = step_size if step < leapfrog_steps - 1 else 0.5 * step_size
            p_new = p_new + kick * g_new
        log_alpha = (lp_new - 0.5 * _per_chain_sum(p_new**2)) - (lp - 0.5 * _per_chain_sum(p**2))
        accept = _accept(log_alpha, rng)
        g_old = g
        x, g, lp = _where(accept, x_new, x), _where(accept, g_new, g), np.where(accept, lp_new, lp)
        record.step(x, step_size, accept.mean(), g_old, p)
    return record.finish(x)
