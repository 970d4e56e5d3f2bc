"""``LatentVariableModel``: p(x) = integral of p(x | z) p(z) dz, fitted through a bound.

A subclass defines three distributions, and everything else follows from them here:

    prior()               p(z)
    posterior(x, y)       q(z | x), the encoder (amortised inference)
    likelihood(z, y)      p(x | z), the decoder, over the flattened data

``elbo(x)`` and ``iwae_bound(x, k)`` are the bounds of ``bounds.py`` per example;
``log_prob(x)`` estimates log p(x) by the importance-weighted bound with many samples
(``eval_samples``, 1000 or more for a results table); ``sample(n, rng)`` draws z ~ p(z), then
x ~ p(x | z). ``y`` is the condition of a conditional model (a class label), None otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.distributions import Distribution
from scratchgen.models.base import GenerativeModel
from scratchgen.models.latent import bounds

# draws per pass when estimating log p(x) with many samples: bounds the memory of K = 5000
IWAE_CHUNK = 100


def standard_normal(latent: int, dtype: Any) -> Distribution:
    """p(z) = N(0, I_L) as one event of L dimensions."""
    zeros = np.zeros(latent, dtype=dtype)
    return D.Independent(D.Normal(zeros, np.ones_like(zeros)), 1)


def gaussian_posterior(out: Tensor, latent: int) -> Distribution:
    """q(z | x) = N(mu, diag sigma^2) from an encoder's (n, 2 L) output [mu, log sigma]."""
    mu, log_sigma = out[:, :latent], out[:, latent:]
    return D.Independent(D.Normal(mu, ad.exp(log_sigma)), 1)


class LatentVariableModel(GenerativeModel):
    has_exact_likelihood = False
    has_bound = True  # the trainer reports test_elbo and an importance-sampled test_nll

    def prior(self) -> Distribution:
        raise NotImplementedError

    def posterior(self, x: Tensor, y: Any = None) -> Distribution:
        raise NotImplementedError

    def likelihood(self, z: Tensor, y: Any = None) -> Distribution:
        raise NotImplementedError

    def targets(self, x: Tensor) -> Any:
        """The data as ``likelihood(z).log_prob`` scores it: flattened, (n, D)."""
        return ad.reshape(x, (x.shape[0], -1))

    def _pieces(self, x: Any, y: Any):
        x = self.as_input(x)
        return self.targets(x), self.posterior(x, y), self.prior(), lambda z: self.likelihood(z, y)

    def kl_method(self) -> str:
        """How the ELBO's KL term is computed: "analytic" (closed form) or "mc"."""
        return self.hparams.get("kl", "analytic")

    def elbo(self, x: Any, y: Any = None, samples: int = 1, kl: str | None = None) -> Tensor:
        """ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || p(z)) per example (nats)."""
        kl = kl or self.kl_method()
        return bounds.elbo(*self._pieces(x, y), self.rng, samples, kl)

    def iwae_bound(self, x: Any, k: int, y: Any = None) -> Tensor:
        """L_k(x) = E[log 1/k sum_i p(x, z_i) / q(z_i | x)] per example (nats)."""
        return bounds.iwae_bound(*self._pieces(x, y), self.rng, k, chunk=IWAE_CHUNK)

    def log_prob(self, x: Any, y: Any = None, k: int | None = None) -> Tensor:
        """An estimate of log p(x): the importance-weighted bound with k samples (default
        ``eval_samples``); it is a lower bound in expectation, tight as k grows."""
        return self.iwae_bound(x, k or int(self.hparams.get("eval_samples", 100)), y)

    def sample(self, n: int, rng: np.random.Generator, y: Any = None) -> np.ndarray:
        """Ancestral sampling: z ~ p(z), then x ~ p(x | z)."""
        with ad.no_grad():
            z = ad.Tensor(self.prior().sample((n,), rng=rng))
            condition = self._labels(y, n) if self.conditional else y
            x = self.likelihood(z, condition).sample(rng=rng)
        return x.reshape((n,) + self.info.shape).astype(self.dtype)
