"""``Bernoulli``: binary variables, parametrised by logits for stability."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions.distribution import Distribution, as_tensor


def _logits_from(probs: Any, logits: Any) -> Tensor:
    if (probs is None) == (logits is None):
        raise ValueError("give exactly one of probs and logits")
    if logits is not None:
        return as_tensor(logits)
    p = as_tensor(probs)
    if np.any((p.data < 0) | (p.data > 1)):
        raise ValueError("probs must lie in [0, 1]")
    return ad.log(p) - ad.log1p(-p)


class Bernoulli(Distribution):
    """p(x = 1) = sigmoid(logits)."""

    def __init__(self, probs: Any = None, logits: Any = None) -> None:
        self.logits = _logits_from(probs, logits)
        self.batch_shape = self.logits.shape

    @property
    def probs(self) -> Tensor:
        return ad.sigmoid(self.logits)

    def log_prob(self, x: Any) -> Tensor:
        """log p(x) = x l - softplus(l) for logits l: never log of a rounded 0 or 1."""
        return x * self.logits - ad.softplus(self.logits)

    def sample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> np.ndarray:
        p = self.probs.data
        return (rng.random(self._shape(sample_shape)) < p).astype(p.dtype)

    def entropy(self) -> Tensor:
        """H = softplus(l) - p l."""
        return ad.softplus(self.logits) - self.probs * self.logits
