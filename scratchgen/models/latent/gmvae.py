"""A VAE whose prior is a learned mixture of Gaussians (the "GMVAE" of the course: the mixture
prior alone, as in Tomczak & Welling's VampPrior comparison and Dilokthanakul et al. 2016's
starting point).

    p(z) = sum_k pi_k N(z; m_k, diag s_k^2),      q(z | x) = N(mu(x), diag sigma(x)^2)

KL(q || p) to a mixture has no closed form, so the KL term is the Monte Carlo estimate of
Kingma & Welling's eq. 6 over the same draws z_s ~ q that the reconstruction term uses:

    KL_i ~ 1/S sum_s [log q(z_s | x_i) - log p(z_s)],   log p(z) = logsumexp_k [log pi_k +
    log N(z; m_k, s_k^2)]

The prior's weights, means and scales are trained with the rest, so p(z) can put its mass
where the codes of the data are instead of asking them to fill a unit ball.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.latent.vae import VAE
from scratchgen.nn import Parameter
from scratchgen.settings import Size


@register(
    "gmvae",
    ("binary", "categorical", "continuous"),
    "VAE with a learned mixture-of-Gaussians prior, its KL by Monte Carlo",
)
class GMVAE(VAE):
    def __init__(self, info: DataInfo, prior_components: Size = 10, kl: Literal["mc"] = "mc",
                 **settings: Any) -> None:  # fmt: skip
        # the KL to a mixture has no closed form (hence kl="mc") and does not split by dimension
        if settings.get("free_bits", 0.0):
            raise ValueError("gmvae: the KL to a mixture prior does not split by dimension, so "
                             "free_bits cannot apply; leave it at 0")  # fmt: skip
        super().__init__(info, prior_components=prior_components, kl=kl, **settings)
        rng = np.random.default_rng([settings.get("seed", 0), 3])
        self.prior_logits = Parameter(np.zeros(prior_components), dtype=self.dtype)
        self.prior_means = Parameter(rng.standard_normal((prior_components, self.latent)),
                                     dtype=self.dtype)  # fmt: skip
        self.prior_log_scales = Parameter(np.zeros((prior_components, self.latent)),
                                          dtype=self.dtype)  # fmt: skip

    def prior(self) -> D.Distribution:
        components = D.Independent(D.Normal(self.prior_means, ad.exp(self.prior_log_scales)), 1)
        return D.MixtureSameFamily(D.Categorical(logits=self.prior_logits), components)

    def kl_term(self, q: D.Independent, prior: D.Distribution, z: Tensor) -> Tensor:
        """1/n sum_i 1/S sum_s [log q(z_is | x_i) - log p(z_is)]."""
        return ad.mean(q.log_prob(z) - prior.log_prob(z))

    def kl_per_dimension(self, x: Any, y: Any = None) -> np.ndarray:
        raise ValueError("gmvae: the KL to a mixture prior does not split by latent dimension; "
                         "use active_units(x), or elbo(x) for the whole KL term")  # fmt: skip
