"""The linear-Gaussian latent-variable model (probabilistic PCA), where everything is exact.

    p(z) = N(0, I_L),       p(x | z) = N(W z + b, sigma^2 I_D)
    p(x) = N(x; b, C),      C = W W^T + sigma^2 I_D
    p(z | x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}),      M = W^T W + sigma^2 I_L

(Bishop, "Pattern Recognition and Machine Learning", 2006, eq. 12.31-12.33 for the model,
12.35-12.36 for the marginal, 12.41-12.42 for the posterior; Tipping & Bishop 1999.) Since
log p(x) and the true posterior are known, this is where the bounds can be checked exactly:

    log p(x) - ELBO_q(x) = KL(q(z | x) || p(z | x))

so the ELBO equals log p(x) at q = p(z | x) and falls below it for every other q. For a
Gaussian q = N(m, S) the ELBO has a closed form too (``elbo_closed_form``):

    E_q[log p(x | z)] = -D/2 log(2 pi sigma^2) - (||x - W m - b||^2 + tr(W S W^T)) / (2 sigma^2)

The model trains either by exact maximum likelihood (``objective="likelihood"``) or as a VAE
whose encoder is linear, q(z | x) = N(A x + c, diag s^2) (``objective="elbo"``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.latent.base import LatentVariableModel, standard_normal
from scratchgen.nn import Parameter
from scratchgen.settings import Size

_LOG_2PI = math.log(2 * math.pi)


@register(
    "linear_gaussian",
    ("continuous",),
    "probabilistic PCA: exact log p(x) and posterior; ML or ELBO training",
)
class LinearGaussian(LatentVariableModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, latent: Size = 2,
                 objective: Literal["likelihood", "elbo"] = "likelihood",
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, latent=latent, objective=objective, **hparams)
        d, rng = info.dims, np.random.default_rng(hparams.get("seed", 0))
        self.latent = latent
        self.W = Parameter(rng.standard_normal((d, latent)) / np.sqrt(latent), dtype=self.dtype)
        self.b = Parameter(np.zeros(d), dtype=self.dtype)
        self.log_sigma = Parameter(np.zeros(()), dtype=self.dtype)
        # the amortised encoder of objective="elbo": q(z | x) = N(A x + c, diag exp(2 s))
        self.A = Parameter(np.zeros((latent, d)), dtype=self.dtype)
        self.c = Parameter(np.zeros(latent), dtype=self.dtype)
        self.s = Parameter(np.zeros(latent), dtype=self.dtype)

    # ------------------------------------------------------------------ the model
    def prior(self) -> D.Distribution:
        return standard_normal(self.latent, self.dtype)

    def likelihood(self, z: Tensor, y: Any = None) -> D.Distribution:
        mean = z @ ad.transpose(self.W) + self.b
        return D.Independent(D.Normal(mean, ad.exp(self.log_sigma)), 1)

    def posterior(self, x: Tensor, y: Any = None) -> D.Distribution:
        """The amortised q(z | x) = N(A x + c, diag exp(2 s)); see ``exact_posterior``."""
        flat = self.targets(x)
        return D.Independent(D.Normal(flat @ ad.transpose(self.A) + self.c, ad.exp(self.s)), 1)

    def marginal(self) -> D.MultivariateNormal:
        """p(x) = N(b, W W^T + sigma^2 I)."""
        d = self.info.dims
        C = self.W @ ad.transpose(self.W) + ad.exp(2 * self.log_sigma) * np.eye(d, dtype=self.dtype)
        return D.MultivariateNormal(self.b, covariance_matrix=C)

    def exact_posterior(self, x: Any) -> D.MultivariateNormal:
        """p(z | x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}), M = W^T W + sigma^2 I."""
        flat = self.targets(self.as_input(x))
        sigma2 = ad.exp(2 * self.log_sigma)
        M = ad.transpose(self.W) @ self.W + sigma2 * np.eye(self.latent, dtype=self.dtype)
        M_inv = ad.inv(M)
        mean = (flat - self.b) @ self.W @ M_inv  # rows of M^{-1} W^T (x - b) (M is symmetric)
        return D.MultivariateNormal(mean, covariance_matrix=sigma2 * M_inv)

    def log_prob(self, x: Any, y: Any = None, k: int | None = None) -> Tensor:
        """Exact log p(x) under the marginal (k is ignored: nothing to estimate)."""
        return self.marginal().log_prob(self.targets(self.as_input(x)))

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """-1/n sum_i log p(x_i) (exact maximum likelihood) or -1/n sum_i ELBO(x_i) with the
        linear encoder, as ``objective`` says."""
        if self.hparams["objective"] == "likelihood":
            return -ad.mean(self.log_prob(x))
        return -ad.mean(self.elbo(x))

    # ------------------------------------------------------------------ the bound, exactly
    def elbo_closed_form(self, x: Any, q: D.Distribution) -> Tensor:
        """ELBO_q(x) = E_q[log p(x | z)] - KL(q || p(z)) for a Gaussian q (a diagonal
        Independent Normal or a MultivariateNormal over z), with no sampling."""
        flat = self.targets(self.as_input(x))
        if isinstance(q, D.Independent):  # S = diag(s^2): tr(W S W^T) = sum_dl W_dl^2 s_l^2
            m, scale = q.base.mean, ad.broadcast_to(q.base.scale, q.base.batch_shape)
            trace = ad.sum((scale * scale) @ ad.transpose(self.W * self.W), axis=-1)
            q_full = D.MultivariateNormal(m, scale_tril=_diagonal_matrix(scale))
        else:
            m, q_full = q.loc, q
            trace = ad.sum((self.W @ q.covariance_matrix) * self.W, axis=(-2, -1))
        sigma2 = ad.exp(2 * self.log_sigma)
        residual = flat - m @ ad.transpose(self.W) - self.b
        d = self.info.dims
        squared_error = ad.sum(residual * residual, axis=-1) + trace
        expected_log_px_z = -0.5 * d * (_LOG_2PI + 2 * self.log_sigma) - squared_error / (
            2 * sigma2
        )
        eye = np.eye(self.latent, dtype=self.dtype)
        standard = D.MultivariateNormal(np.zeros(self.latent, self.dtype), scale_tril=eye)
        return expected_log_px_z - D.kl_divergence(q_full, standard)


def _diagonal_matrix(values: Tensor) -> Tensor:
    """diag(v) for each row v of values (..., L) -> (..., L, L), differentiably."""
    L = values.shape[-1]
    return ad.unsqueeze(values, -1) * np.eye(L, dtype=values.dtype)
