"""``GaussianMixture``: K Gaussians with diagonal or full covariances, fitted by gradient
descent on the log-likelihood or by EM.

    p(x) = sum_k pi_k N(x; mu_k, Sigma_k),   pi = softmax(a)
    diag: Sigma_k = diag(sigma_k^2), sigma = exp(s)
    full: Sigma_k = L_k L_k^T, L_k lower triangular with diagonal exp(r_k) (a Cholesky factor)

The parameters are unconstrained (logits a, log-scales s or the raw factor R whose strict lower
triangle is L's and whose diagonal is log L's), so any gradient step keeps a valid density.
The loss is the mean negative log-likelihood -1/n sum_i log p(x_i), which is the empirical
cross-entropy, and its minimiser minimises KL(p_data || p) (Bishop, "Pattern Recognition and
Machine Learning", 2006, section 9.2). ``fit_em`` fits the same density by the closed-form
E and M steps of ``latent/em.py`` instead, so the two methods can be run side by side.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.distributions.multivariate_normal import diagonal
from scratchgen.models.base import GenerativeModel, register
from scratchgen.models.latent import em
from scratchgen.nn import Parameter
from scratchgen.settings import OneOf, Positive, Size


@register("gaussian_mixture", ("continuous",), "mixture of Gaussians (diagonal or full)")
class GaussianMixture(GenerativeModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, components: Size = 8, init_scale: Positive = 1.0,
                 covariance: Annotated[str, OneOf(em.COVARIANCES)] = "diag",
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, components=components, init_scale=init_scale,
                         covariance=covariance, **hparams)  # fmt: skip
        d = info.dims
        init = np.random.default_rng(hparams.get("seed", 0))
        self.covariance = covariance
        self.logits = Parameter(np.zeros(components), dtype=self.dtype)
        self.means = Parameter(init_scale * init.standard_normal((components, d)), dtype=self.dtype)
        if covariance == "diag":
            self.log_scales = Parameter(np.zeros((components, d)), dtype=self.dtype)
        else:
            self.raw_tril = Parameter(np.zeros((components, d, d)), dtype=self.dtype)

    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """Means on K distinct training points, scales a third of the data's spread per
        dimension: every component starts on data (random means can start between modes and
        stay there)."""
        flat = x_train.reshape(len(x_train), -1)
        picks = rng.choice(len(flat), size=min(len(self.means.data), len(flat)), replace=False)
        self.means.data[: len(picks)] = flat[picks]
        log_scales = np.log(flat.std(axis=0) / 3 + 1e-6)
        if self.covariance == "diag":
            self.log_scales.data[...] = log_scales
        else:
            self.raw_tril.data[...] = np.diag(log_scales)

    def scale_tril(self) -> Tensor:
        """L_k = strict lower triangle of R_k + diag(exp(diag R_k)), shape (K, d, d)."""
        d = self.info.dims
        eye = np.eye(d, dtype=self.dtype)
        strictly_lower = np.tril(np.ones((d, d), dtype=self.dtype), -1)
        return (
            self.raw_tril * strictly_lower + ad.unsqueeze(ad.exp(diagonal(self.raw_tril)), -1) * eye
        )

    def distribution(self) -> D.MixtureSameFamily:
        if self.covariance == "diag":
            components = D.Independent(D.Normal(self.means, self.log_scales.exp()), 1)
        else:
            components = D.MultivariateNormal(self.means, scale_tril=self.scale_tril())
        return D.MixtureSameFamily(D.Categorical(logits=self.logits), components)

    def log_prob(self, x: Any) -> Tensor:
        x = self.as_input(x)
        flat = x.reshape(x.shape[0], -1)
        return self.distribution().log_prob(flat)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        flat = self.distribution().sample((n,), rng=rng)
        return flat.reshape((n,) + self.info.shape).astype(self.dtype)

    # ------------------------------------------------------------------ EM, side by side
    def mixture_parameters(self) -> em.MixtureParameters:
        """The current density as plain float64 arrays (weights, means, covariances)."""
        with ad.no_grad():
            weights = ad.softmax(self.logits, axis=0).data.astype(np.float64)
            if self.covariance == "diag":
                spread = np.exp(2 * self.log_scales.data.astype(np.float64))
            else:
                L = self.scale_tril().data.astype(np.float64)
                spread = L @ np.swapaxes(L, -1, -2)
        return em.MixtureParameters(weights, self.means.data.astype(np.float64), spread,
                                    self.covariance)  # fmt: skip

    def set_mixture_parameters(self, params: em.MixtureParameters) -> None:
        """Write a density back into the unconstrained parameters (the inverse of the maps
        in ``scale_tril`` and ``distribution``)."""
        self.logits.data[...] = np.log(params.weights)
        self.means.data[...] = params.means
        if self.covariance == "diag":
            self.log_scales.data[...] = 0.5 * np.log(params.covariances)
        else:
            L = np.linalg.cholesky(params.covariances)
            d = self.info.dims
            log_diagonal = np.log(np.diagonal(L, axis1=-2, axis2=-1))[..., None] * np.eye(d)
            self.raw_tril.data[...] = np.tril(L, -1) + log_diagonal

    def fit_em(self, x: np.ndarray, steps: int = 100, tol: float = 1e-8) -> list[float]:
        """Fit by EM from the current parameters (call ``initialize`` first for the usual
        start); returns the mean log-likelihood of x after each step (non-decreasing)."""
        params, history = em.fit(x, self.mixture_parameters(), steps, tol)
        self.set_mixture_parameters(params)
        return history
