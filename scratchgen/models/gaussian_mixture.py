"""``GaussianMixture``: K diagonal Gaussians, fitted by gradient descent on log-likelihood.

    p(x) = sum_k pi_k N(x; mu_k, diag(sigma_k^2)),   pi = softmax(a),   sigma = exp(s)

The parameters are unconstrained (logits a, log-scales s), so any gradient step keeps a valid
density. The loss is the mean negative log-likelihood -1/n sum_i log p(x_i), which is the
empirical cross-entropy, and its minimiser minimises KL(p_data || p) (Bishop, "Pattern
Recognition and Machine Learning", 2006, section 9.2 for the mixture; EM for it comes with the
latent-variable models).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel, register
from scratchgen.nn import Parameter


@register("gaussian_mixture", ("continuous",), "mixture of diagonal Gaussians", components=8,
          init_scale=1.0)  # fmt: skip
class GaussianMixture(GenerativeModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, components: int = 8, init_scale: float = 1.0,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, components=components, init_scale=init_scale, **hparams)
        d = info.dims
        init = np.random.default_rng(hparams.get("seed", 0))
        self.logits = Parameter(np.zeros(components), dtype=self.dtype)
        self.means = Parameter(init_scale * init.standard_normal((components, d)), dtype=self.dtype)
        self.log_scales = Parameter(np.zeros((components, d)), dtype=self.dtype)

    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """Means on K distinct training points, scales a third of the data's spread per
        dimension: every component starts on data (random means can start between modes and
        stay there)."""
        flat = x_train.reshape(len(x_train), -1)
        picks = rng.choice(len(flat), size=min(len(self.means.data), len(flat)), replace=False)
        self.means.data[: len(picks)] = flat[picks]
        self.log_scales.data[...] = np.log(flat.std(axis=0) / 3 + 1e-6)

    def distribution(self) -> D.MixtureSameFamily:
        components = D.Independent(D.Normal(self.means, self.log_scales.exp()), 1)
        return D.MixtureSameFamily(D.Categorical(logits=self.logits), components)

    def log_prob(self, x: Any) -> Tensor:
        x = self.as_input(x)
        flat = x.reshape(x.shape[0], -1)
        return self.distribution().log_prob(flat)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        flat = self.distribution().sample((n,), rng=rng)
        return flat.reshape((n,) + self.info.shape).astype(self.dtype)
