"""``Distribution``: the interface every distribution shares.

Shapes follow ``torch.distributions``: ``batch_shape`` indexes independent distributions,
``event_shape`` is the shape of one draw; ``log_prob(x)`` returns one value per batch element
(a Tensor, differentiable in the parameters and, for continuous distributions, in x),
``sample(sample_shape, rng=...)`` an ndarray of shape sample_shape + batch_shape + event_shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor


def as_tensor(value: Any, dtype: Any = None) -> Tensor:
    """A parameter as a Tensor: Tensors keep their graph; arrays and numbers become constants
    (floating, float64 unless ``dtype`` says otherwise)."""
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    if dtype is not None or not np.issubdtype(array.dtype, np.floating):
        array = array.astype(dtype or np.float64)
    return ad.Tensor(array)


class Distribution:
    batch_shape: tuple[int, ...] = ()
    event_shape: tuple[int, ...] = ()
    has_rsample = False

    def log_prob(self, x: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no log_prob")

    def sample(self, sample_shape: tuple[int, ...] = (), *, rng: np.random.Generator) -> np.ndarray:
        """Draws, outside the graph."""
        with ad.no_grad():
            return self.rsample(sample_shape, rng=rng).data

    def rsample(self, sample_shape: tuple[int, ...] = (), *, rng: np.random.Generator) -> Tensor:
        """Reparameterised draws x = g(parameters, noise): gradients flow to the parameters."""
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterised sample (it is discrete or its "
            "sampler is not differentiable); use sample() with a score-function estimator"
        )

    def entropy(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no closed-form entropy")

    def _shape(self, sample_shape: Any) -> tuple[int, ...]:
        sample_shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)
        return sample_shape + self.batch_shape + self.event_shape

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(batch_shape={self.batch_shape}, event_shape={self.event_shape})"
        )
