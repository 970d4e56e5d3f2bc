"""MCMC on plain functions of ndarrays: Langevin dynamics (unadjusted, or Metropolis-adjusted
when the log-density is given), Hamiltonian Monte Carlo, and annealed importance sampling.

Every sampler runs a batch of independent chains at once: x has shape (n, D), a score or
gradient maps (n, D) to (n, D), a log-density maps (n, D) to (n,). Randomness comes only from
the ``rng`` passed in. With ``return_trajectory=True`` a sampler also returns the states after
each step, shape (steps + 1, n, D), the start included.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray
Score = Callable[[Array], Array]
LogDensity = Callable[[Array], Array]


def _chains(x0: Array, name: str) -> Array:
    x = np.array(x0, dtype=np.float64)
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: x0 must be finite chains of shape (n, D), got {x.shape}")
    return x


def _accept(log_alpha: Array, rng: np.random.Generator) -> Array:
    """Metropolis: accept with probability min(1, exp(log_alpha)); a NaN is a rejection."""
    return np.log(rng.uniform(size=log_alpha.shape)) < log_alpha


def langevin(score: Score, x0: Array, step_size: float, steps: int, rng: np.random.Generator,
             log_prob: LogDensity | None = None, return_trajectory: bool = False):  # fmt: skip
    """Langevin dynamics with step size epsilon:

        x' = x + (epsilon / 2) score(x) + sqrt(epsilon) z,     z ~ N(0, I)

    the Euler-Maruyama step of dx = (1/2) grad log p(x) dt + dW, whose stationary law is p.
    Unadjusted (log_prob None), the chain's law is biased by O(epsilon): for a Gaussian target
    N(0, s^2) its stationary variance is s^2 / (1 - epsilon / (4 s^2)). With ``log_prob`` the
    step is a proposal accepted with probability (Metropolis-adjusted Langevin, MALA; Roberts
    & Tweedie, "Exponential convergence of Langevin distributions", 1996)

        min(1, p(x') q(x | x') / (p(x) q(x' | x))),  q(x' | x) = N(x' ; x + (eps/2) score(x), eps I)

    which makes p exactly stationary."""
    x = _chains(x0, "langevin")
    if not step_size > 0 or steps < 0:
        raise ValueError(f"langevin: need step_size > 0 and steps >= 0, got {step_size}, {steps}")
    trajectory = [x.copy()]
    s = score(x)
    lp = None if log_prob is None else log_prob(x)
    for _ in range(steps):
        mean = x + 0.5 * step_size * s
        proposal = mean + np.sqrt(step_size) * rng.standard_normal(x.shape)
        s_new = score(proposal)
        if log_prob is None:
            x, s = proposal, s_new
        else:
            lp_new = log_prob(proposal)
            back = x - proposal - 0.5 * step_size * s_new  # x' -> x under the reverse proposal
            log_q_back = -np.sum(back**2, axis=1) / (2 * step_size)
            log_q_forward = -np.sum((proposal - mean) ** 2, axis=1) / (2 * step_size)
            accept = _accept(lp_new - lp + log_q_back - log_q_forward, rng)
            x = np.where(accept[:, None], proposal, x)
            s = np.where(accept[:, None], s_new, s)
            lp = np.where(accept, lp_new, lp)
        trajectory.append(x.copy())
    return (x, np.stack(trajectory)) if return_trajectory else x


def hmc(log_prob_and_grad: Callable[[Array], tuple[Array, Array]], x0: Array, step_size: float,
        leapfrog_steps: int, rng: np.random.Generator, steps: int = 1,
        return_trajectory: bool = False):  # fmt: skip
    """Hamiltonian Monte Carlo (Neal, "MCMC using Hamiltonian dynamics", 2011): each of
    ``steps`` transitions draws a momentum p ~ N(0, I), runs L leapfrog steps of the dynamics
    of H(x, p) = -log p(x) + ||p||^2 / 2,

        p <- p + (eps/2) grad log p(x);  x <- x + eps p;  p <- p + (eps/2) grad log p(x)

    and accepts the end point with probability min(1, exp(H(x, p) - H(x', p'))). The leapfrog
    map is volume-preserving and reversible, so the target is exactly stationary.
    ``log_prob_and_grad(x)`` returns (log p(x) up to a constant, (n,); its gradient, (n, D))."""
    x = _chains(x0, "hmc")
    if not step_size > 0 or leapfrog_steps < 1 or steps < 0:
        raise ValueError("hmc: need step_size > 0, leapfrog_steps >= 1 and steps >= 0")
    lp, g = log_prob_and_grad(x)
    trajectory = [x.copy()]
    for _ in range(steps):
        p = rng.standard_normal(x.shape)
        x_new, p_new, g_new = x, p + 0.5 * step_size * g, g
        for step in range(leapfrog_steps):
            x_new = x_new + step_size * p_new
            lp_new, g_new = log_prob_and_grad(x_new)
            kick = step_size if step < leapfrog_steps - 1 else 0.5 * step_size
            p_new = p_new + kick * g_new
        log_alpha = (lp_new - 0.5 * np.sum(p_new**2, axis=1)) - (lp - 0.5 * np.sum(p**2, axis=1))
        accept = _accept(log_alpha, rng)
        x = np.where(accept[:, None], x_new, x)
        lp, g = np.where(accept, lp_new, lp), np.where(accept[:, None], g_new, g)
        trajectory.append(x.copy())
    return (x, np.stack(trajectory)) if return_trajectory else x
