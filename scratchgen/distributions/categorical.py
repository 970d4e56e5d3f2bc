"""``Categorical``: one of K classes, over the last axis of the logits."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions.distribution import Distribution, as_tensor


class Categorical(Distribution):
    """p(k) = softmax(logits)_k; ``probs`` are turned into logits = log probs."""

    def __init__(self, probs: Any = None, logits: Any = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: give exactly one of probs and logits")
        logits = as_tensor(logits) if logits is not None else ad.log(as_tensor(probs))
        if logits.ndim < 1:
            raise ValueError("Categorical: logits need a last axis of classes")
        self.logits = ad.log_softmax(logits, axis=-1)  # normalised: log p
        self.batch_shape = logits.shape[:-1]
        self.num_classes = logits.shape[-1]

    @property
    def probs(self) -> Tensor:
        return ad.exp(self.logits)

    def log_prob(self, x: Any) -> Tensor:
        """log p(x) picked from the normalised logits; x holds integer class indices."""
        x = np.asarray(x.data if isinstance(x, Tensor) else x)
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"Categorical.log_prob: classes must be integers, got {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.num_classes):
            raise ValueError(f"Categorical.log_prob: classes must lie in [0, {self.num_classes})")
        shape = np.broadcast_shapes(x.shape, self.batch_shape)
        logits = ad.broadcast_to(self.logits, shape + (self.num_classes,))
        index = np.broadcast_to(x, shape)[..., None]
        return ad.take_along_axis(logits, index, axis=-1)[..., 0]

    def sample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> np.ndarray:
        """argmax_k (log p_k + G_k) with G_k standard Gumbel is a draw from p (the Gumbel-max
        trick, Gumbel 1954; Maddison et al. 2014)."""
        shape = self._shape(sample_shape) + (self.num_classes,)
        gumbel = -np.log(-np.log(rng.random(shape)))
        return np.argmax(self.logits.data + gumbel, axis=-1)

    def entropy(self) -> Tensor:
        """H = -sum_k p_k log p_k (terms with p_k = 0 contribute 0)."""
        p = self.probs
        return -ad.sum(ad.where(p.data > 0, p * self.logits, 0.0), axis=-1)
