"""``Normal(loc, scale)``: independent Gaussians, one per element."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions.distribution import Distribution, as_tensor

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Normal(Distribution):
    """N(loc, scale^2) elementwise (loc and scale broadcast)."""

    has_rsample = True

    def __init__(self, loc: Any, scale: Any) -> None:
        self.loc, self.scale = as_tensor(loc), as_tensor(scale)
        if np.any(self.scale.data <= 0):
            raise ValueError("Normal: scale must be positive")
        self.batch_shape = np.broadcast_shapes(self.loc.shape, self.scale.shape)

    def log_prob(self, x: Any) -> Tensor:
        """log N(x; mu, sigma^2) = -((x - mu) / sigma)^2 / 2 - log sigma - log(2 pi) / 2."""
        z = (x - self.loc) / self.scale
        return -0.5 * z * z - ad.log(self.scale) - _HALF_LOG_2PI

    def rsample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> Tensor:
        """x = mu + sigma eps, eps ~ N(0, I): the reparameterisation trick (Kingma & Welling
        2014, section 2.4)."""
        eps = rng.standard_normal(self._shape(sample_shape)).astype(self.loc.dtype)
        return self.loc + self.scale * eps

    def entropy(self) -> Tensor:
        """H = 1/2 + log(2 pi)/2 + log sigma."""
        return ad.broadcast_to(0.5 + _HALF_LOG_2PI + ad.log(self.scale), self.batch_shape)

    @property
    def mean(self) -> Tensor:
        return ad.broadcast_to(self.loc, self.batch_shape)

    @property
    def variance(self) -> Tensor:
        return ad.broadcast_to(self.scale * self.scale, self.batch_shape)
