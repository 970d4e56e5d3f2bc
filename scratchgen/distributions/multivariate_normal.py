"""``MultivariateNormal``: a Gaussian over vectors with a full covariance.

With the covariance factored as Sigma = L L^T (L lower triangular with a positive diagonal,
the Cholesky factor), every quantity needs one triangular solve and no inverse:

    log N(x; mu, Sigma) = -1/2 ||z||^2 - sum_i log L_ii - d/2 log(2 pi),   z = L^{-1} (x - mu)
    x = mu + L eps, eps ~ N(0, I)                                      (reparameterised draw)
    H = d/2 (1 + log(2 pi)) + sum_i log L_ii

(Bishop, "Pattern Recognition and Machine Learning", 2006, eq. 2.43 for the density; log|Sigma|
= 2 sum_i log L_ii because det L is the product of its diagonal.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions.distribution import Distribution, as_tensor

_LOG_2PI = math.log(2 * math.pi)


def diagonal(matrices: Tensor) -> Tensor:
    """The diagonals of (..., d, d) matrices, (..., d), differentiably."""
    d = matrices.shape[-1]
    return ad.sum(matrices * np.eye(d, dtype=matrices.dtype), axis=-1)


def mahalanobis_whiten(scale_tril: Tensor, diff: Tensor) -> Tensor:
    """z = L^{-1} diff for diff of shape (..., d), L broadcast against diff's batch."""
    batch = np.broadcast_shapes(scale_tril.shape[:-2], diff.shape[:-1])
    d = diff.shape[-1]
    L = ad.broadcast_to(scale_tril, batch + (d, d))
    columns = ad.unsqueeze(ad.broadcast_to(diff, batch + (d,)), -1)  # (..., d, 1)
    return ad.triangular_solve(L, columns, lower=True)[..., 0]


class MultivariateNormal(Distribution):
    """N(loc, Sigma) over the last axis of ``loc``; give exactly one of ``covariance_matrix``
    (factored by Cholesky) and ``scale_tril`` (L itself, lower triangular, positive diagonal).
    """

    has_rsample = True

    def __init__(self, loc: Any, covariance_matrix: Any = None, scale_tril: Any = None) -> None:
        if (covariance_matrix is None) == (scale_tril is None):
            raise ValueError("MultivariateNormal: give exactly one of covariance_matrix and "
                             "scale_tril")  # fmt: skip
        self.loc = as_tensor(loc)
        if self.loc.ndim < 1:
            raise ValueError("MultivariateNormal: loc needs a last axis (the event)")
        d = self.loc.shape[-1]
        if scale_tril is None:
            self.scale_tril = ad.cholesky(as_tensor(covariance_matrix, self.loc.dtype))
        else:
            self.scale_tril = as_tensor(scale_tril, self.loc.dtype)
            if np.any(np.diagonal(self.scale_tril.data, axis1=-2, axis2=-1) <= 0):
                raise ValueError("MultivariateNormal: scale_tril needs a positive diagonal")
        if self.scale_tril.shape[-2:] != (d, d):
            raise ValueError(
                f"MultivariateNormal: loc of shape {self.loc.shape} needs ({d}, {d}) matrices, "
                f"got {self.scale_tril.shape}"
            )
        self.batch_shape = np.broadcast_shapes(self.loc.shape[:-1], self.scale_tril.shape[:-2])
        self.event_shape = (d,)

    @property
    def covariance_matrix(self) -> Tensor:
        return self.scale_tril @ ad.swapaxes(self.scale_tril, -1, -2)

    def _half_log_det(self) -> Tensor:
        """1/2 log|Sigma| = sum_i log L_ii."""
        return ad.sum(ad.log(diagonal(self.scale_tril)), axis=-1)

    def log_prob(self, x: Any) -> Tensor:
        z = mahalanobis_whiten(self.scale_tril, ad.as_constant(x) - self.loc)
        d = self.event_shape[0]
        return -0.5 * ad.sum(z * z, axis=-1) - self._half_log_det() - 0.5 * d * _LOG_2PI

    def rsample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> Tensor:
        """x = mu + L eps (the reparameterisation trick with a full covariance)."""
        eps = rng.standard_normal(self._shape(sample_shape)).astype(self.loc.dtype)
        return self.loc + (self.scale_tril @ eps[..., None])[..., 0]

    def entropy(self) -> Tensor:
        d = self.event_shape[0]
        entropy = 0.5 * d * (1 + _LOG_2PI) + self._half_log_det()
        return ad.broadcast_to(entropy, self.batch_shape)

    @property
    def mean(self) -> Tensor:
        return ad.broadcast_to(self.loc, self.batch_shape + self.event_shape)
