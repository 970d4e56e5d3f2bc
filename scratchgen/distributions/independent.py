"""``Independent``: treat the last batch axes of a distribution as one event."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions.distribution import Distribution


class Independent(Distribution):
    """log p(x) = sum over the last ``reinterpreted_batch_ndims`` axes of base.log_prob(x):
    a diagonal Gaussian over vectors is Independent(Normal(mu, sigma), 1)."""

    def __init__(self, base: Distribution, reinterpreted_batch_ndims: int) -> None:
        n = reinterpreted_batch_ndims
        if not 0 < n <= len(base.batch_shape):
            raise ValueError(
                f"Independent: cannot reinterpret {n} of the batch axes {base.batch_shape}"
            )
        self.base, self.ndims = base, n
        self.batch_shape = base.batch_shape[: len(base.batch_shape) - n]
        self.event_shape = base.batch_shape[len(base.batch_shape) - n :] + base.event_shape
        self.has_rsample = base.has_rsample

    def _sum_event(self, t: Tensor) -> Tensor:
        return ad.sum(t, axis=tuple(range(-self.ndims, 0)))

    def log_prob(self, x: Any) -> Tensor:
        return self._sum_event(self.base.log_prob(x))

    def sample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> np.ndarray:
        return self.base.sample(sample_shape, rng=rng)

    def rsample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> Tensor:
        return self.base.rsample(sample_shape, rng=rng)

    def entropy(self) -> Tensor:
        return self._sum_event(self.base.entropy())
