"""The variational bounds on log p(x), written once for every latent-variable model.

For a model p(x, z) = p(x | z) p(z) and any distribution q(z | x) over the latents,

    log p(x) = ELBO(x) + KL(q(z | x) || p(z | x))  >=  ELBO(x)
    ELBO(x)  = E_q[log p(x | z)] - KL(q(z | x) || p(z))

(Kingma & Welling, "Auto-Encoding Variational Bayes", 2014, eq. 3). Its two Monte Carlo
estimators are eq. 7, with the KL term in closed form, and eq. 6, which estimates it too:

    analytic   1/S sum_s log p(x | z_s) - KL(q || p)
    mc         1/S sum_s [log p(x | z_s) + log p(z_s) - log q(z_s | x)],    z_s ~ q(z | x)

and both have the same expectation. The importance-weighted bound (Burda, Grosse &
Salakhutdinov, "Importance Weighted Autoencoders", 2016, eq. 8) averages the weights inside
the logarithm:

    L_K(x) = E[log 1/K sum_k w_k],   w_k = p(x, z_k) / q(z_k | x),   z_k ~ q(z | x)

with L_1 = ELBO <= L_K <= L_{K+1} <= log p(x) and L_K -> log p(x) as K grows (their theorem 1).

Each function takes the pieces as objects: ``q`` a distribution over z with a batch of n
examples, ``prior`` p(z), and ``likelihood`` a function from z (S, n, ...) to the distribution
p(x | z), whose ``log_prob`` of the n examples gives (S, n).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions import Distribution, kl_divergence

Likelihood = Callable[[Tensor], Distribution]


def _draws(q: Distribution, samples: int, rng: np.random.Generator) -> Tensor:
    """z (S, n, ...): reparameterised when q allows it, so that gradients reach q."""
    return (
        q.rsample((samples,), rng=rng)
        if q.has_rsample
        else ad.Tensor(q.sample((samples,), rng=rng))
    )


def log_weights(x: Any, q: Distribution, prior: Distribution, likelihood: Likelihood,
                samples: int, rng: np.random.Generator) -> Tensor:  # fmt: skip
    """log w_s = log p(x | z_s) + log p(z_s) - log q(z_s | x), shape (S, n)."""
    z = _draws(q, samples, rng)
    return likelihood(z).log_prob(x) + prior.log_prob(z) - q.log_prob(z)


def elbo(x: Any, q: Distribution, prior: Distribution, likelihood: Likelihood,
         rng: np.random.Generator, samples: int = 1, kl: str = "analytic") -> Tensor:  # fmt: skip
    """The evidence lower bound per example, (n,): eq. 7 (``kl="analytic"``) or eq. 6
    (``kl="mc"``) of Kingma & Welling 2014, with S = ``samples`` draws from q."""
    if kl == "mc":
        return ad.mean(log_weights(x, q, prior, likelihood, samples, rng), axis=0)
    if kl != "analytic":
        raise ValueError(f"elbo: kl must be 'analytic' or 'mc', got {kl!r}")
    z = _draws(q, samples, rng)
    log_px_z = ad.mean(likelihood(z).log_prob(x), axis=0)
    return log_px_z - kl_divergence(q, prior)


def iwae_bound(x: Any, q: Distribution, prior: Distribution, likelihood: Likelihood,
               rng: np.random.Generator, k: int, chunk: int | None = None) -> Tensor:  # fmt: skip
    """L_K(x) = log 1/K sum_k w_k per example (Burda et al. 2016, eq. 8), computed as a
    log-sum-exp. ``chunk`` draws at a time bound the memory of a large K (log_prob estimates
    with K = 1000 and more); the chunks' log-sum-exps combine exactly."""
    if k < 1:
        raise ValueError(f"iwae_bound: k must be >= 1, got {k}")
    chunk = k if chunk is None else max(1, min(chunk, k))
    partial = []
    for start in range(0, k, chunk):
        log_w = log_weights(x, q, prior, likelihood, min(chunk, k - start), rng)
        partial.append(ad.logsumexp(log_w, axis=0))
    total = partial[0] if len(partial) == 1 else ad.logsumexp(ad.stack(partial), axis=0)
    return total - math.log(k)  # a Python float: keeps float32 float32
