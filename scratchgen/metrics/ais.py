"""Annealed importance sampling (Neal, "Annealed importance sampling", Statistics and
Computing, 2001): a normalising constant as an average of importance weights along a path of
distributions from a tractable prior p_0 to an unnormalised target f,

    pi_b(x) ∝ p_0(x)^(1 - b) f(x)^b,    0 = b_0 < b_1 < ... < b_K = 1.

A chain starts at x_0 ~ p_0; before moving from b_{k-1} to b_k it gains the log-weight

    log w += (b_k - b_{k-1}) (log f(x) - log p_0(x))

and is then moved by a transition that leaves pi_{b_k} invariant. E[w] = Z_f / Z_0 exactly
(Neal 2001, section 2), for any number of steps and any transitions that leave the
intermediate distributions invariant, so log mean w estimates log Z_f (with p_0 normalised);
by Jensen's inequality mean log w is a stochastic lower bound on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import logsumexp

import autodiff as ad
from scratchgen import samplers

if TYPE_CHECKING:
    from scratchgen.models.latent.base import LatentVariableModel

Array = np.ndarray


def ais(log_prior: Callable[[Array], Array], log_target: Callable[[Array], Array],
        sample_prior: Callable[[np.random.Generator], Array],
        transition: Transition, betas: Array,
        rng: np.random.Generator) -> Array:  # fmt: skip
    """The log-weights (n,) of the chains ``sample_prior(rng)`` (n, D) starts, along ``betas``
    (increasing from 0 to 1). ``transition(x, beta, rng)`` must leave pi_beta invariant;
    ``hmc_transition`` builds one."""
    betas = np.asarray(betas, np.float64)
    if betas.ndim != 1 or len(betas) < 2 or betas[0] != 0 or betas[-1] != 1:
        raise ValueError("ais: betas must run from 0 to 1, with at least two of them")
    if np.any(np.diff(betas) <= 0):
        raise ValueError("ais: betas must increase")
    x = np.array(sample_prior(rng), dtype=np.float64)
    log_w = np.zeros(len(x))
    for previous, beta in zip(betas[:-1], betas[1:]):
        log_w += (beta - previous) * (log_target(x) - log_prior(x))
        x = transition(x, float(beta), rng)
    return log_w


def log_mean_weight(log_w: Array) -> float:
    """log (1/n sum_i w_i), computed stably: the AIS estimate of log Z_f / Z_0."""
    log_w = np.asarray(log_w, np.float64)
    return float(logsumexp(log_w) - np.log(len(log_w)))


Transition = Callable[[Array, float, np.random.Generator], Array]


LogDensityAndGrad = Callable[[Array], tuple[Array, Array]]


def hmc_transition(
    log_prior_and_grad: LogDensityAndGrad,
    log_target_and_grad: LogDensityAndGrad,
    step_size: float,
    leapfrog_steps: int = 10,
    steps: int = 1,
) -> Transition:
    """A transition for ``ais``: ``steps`` HMC moves on log pi_b = (1 - b) log p_0 + b log f."""

    def move(x: Array, beta: float, rng: np.random.Generator) -> Array:
        def log_pi_and_grad(y: Array) -> tuple[Array, Array]:
            lp0, g0 = log_prior_and_grad(y)
            lf, gf = log_target_and_grad(y)
            return (1 - beta) * lp0 + beta * lf, (1 - beta) * g0 + beta * gf

        return samplers.hmc(log_pi_and_grad, x, step_size, leapfrog_steps, rng, steps=steps)

    return move


def ais_log_likelihood(model: LatentVariableModel, x: Array, rng: np.random.Generator,
                       chains: int = 16, steps: int = 200, step_size: float = 0.05,
                       leapfrog_steps: int = 5) -> Array:  # fmt: skip
    """log p(x) per example of a latent-variable model with continuous latents, by AIS from
    the prior p(z) to the unnormalised posterior f(z) = p(z) p(x | z), whose normaliser is
    p(x) (Wu, Burda, Salakhutdinov & Grosse, "On the Quantitative Analysis of Decoder-Based
    Generative Models", 2017). ``chains`` chains per example, ``steps`` + 1 temperatures
    evenly spaced, one HMC move each; gradients in z by ``autodiff``. Each estimate is a
    stochastic lower bound on log p(x) that tightens as ``steps`` grows."""
    x = np.asarray(x)
    n = len(x)
    repeated = np.repeat(x, chains, axis=0)  # the chains of example i are rows i*C .. i*C+C-1
    with ad.no_grad():
        targets = model.targets(model.as_input(repeated))
    prior = model.prior()

    def with_grad(log_density: Callable[[ad.Tensor], ad.Tensor]) -> LogDensityAndGrad:
        def evaluate(z: Array) -> tuple[Array, Array]:
            z_t = ad.Tensor(z.astype(model.dtype), requires_grad=True)
            value = log_density(z_t)
            (gradient,) = ad.grad(ad.sum(value), [z_t])
            return value.data.astype(np.float64), gradient.data.astype(np.float64)

        return evaluate

    def log_joint(z: ad.Tensor) -> ad.Tensor:
        return prior.log_prob(z) + model.likelihood(z).log_prob(targets)

    prior_and_grad, joint_and_grad = with_grad(prior.log_prob), with_grad(log_joint)
    log_w = ais(
        lambda z: prior_and_grad(z)[0],
        lambda z: joint_and_grad(z)[0],
        lambda r: np.asarray(prior.sample((n * chains,), rng=r), np.float64),
        hmc_transition(prior_and_grad, joint_and_grad, step_size, leapfrog_steps),
        np.linspace(0.0, 1.0, steps + 1),
        rng,
    )
    log_w = log_w.reshape(n, chains)
    return logsumexp(log_w, axis=1) - np.log(chains)
