"""Elementwise bijections with a diagonal Jacobian: log |det| is a sum of log-derivatives.

``Logit`` is the preprocessing of image flows (Dinh et al. 2017, section 4.1): data in (0, 1),
after dequantisation, are squeezed away from the edges and mapped to the real line,

    y = lambda + (1 - 2 lambda) x,    z = logit(y) = log y - log(1 - y),
    log |dz/dx| = log(1 - 2 lambda) - log y - log(1 - y)        (per dimension)

``Sigmoid`` is its inverse without the squeeze (the last layer of a flow onto (0, 1), such as
the noise flow of variational dequantisation). ``ScaleDiagonal`` is NICE's last layer
(Dinh et al. 2015, section 3.3): z = x exp(s), log |det| = sum s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Pair, per_example
from scratchgen.nn import Parameter


class Logit(Bijection):
    """x in (0, 1) -> logit(lambda + (1 - 2 lambda) x); see the module docstring."""

    def __init__(self, lam: float = 0.05) -> None:
        super().__init__()
        if not 0 <= lam < 0.5:
            raise ValueError(f"Logit: lambda must lie in [0, 0.5), got {lam}")
        self.lam = float(lam)

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        y = self.lam + (1 - 2 * self.lam) * x
        log_y, log_1my = ad.log(y), ad.log(1 - y)
        return log_y - log_1my, per_example(np.log(1 - 2 * self.lam) - log_y - log_1my)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        x = (ad.sigmoid(z) - self.lam) / (1 - 2 * self.lam)
        log_derivative = ad.log_sigmoid(z) + ad.log_sigmoid(-z) - np.log(1 - 2 * self.lam)
        return x, per_example(log_derivative)


class Sigmoid(Bijection):
    """x in R -> sigmoid(x) in (0, 1); log |dz/dx| = log sigmoid(x) + log sigmoid(-x)."""

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        return ad.sigmoid(x), per_example(ad.log_sigmoid(x) + ad.log_sigmoid(-x))

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        log_z, log_1mz = ad.log(z), ad.log(1 - z)
        return log_z - log_1mz, per_example(-log_z - log_1mz)


class ScaleDiagonal(Bijection):
    """z = x exp(s) with one learned s per dimension of ``shape``; log |det dz/dx| = sum s."""

    def __init__(self, shape: tuple[int, ...], dtype: Any = np.float32) -> None:
        super().__init__()
        self.log_scale = Parameter(np.zeros(shape), dtype=dtype)

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        total = ad.sum(self.log_scale)
        return x * ad.exp(self.log_scale), total * np.ones(x.shape[0], x.dtype)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        total = ad.sum(self.log_scale)
        return z * ad.exp(-self.log_scale), -total * np.ones(z.shape[0], z.dtype)
