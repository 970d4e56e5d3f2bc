"""``MixtureSameFamily``: K components of one family, mixed by a Categorical."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions.categorical import Categorical
from scratchgen.distributions.distribution import Distribution


class MixtureSameFamily(Distribution):
    """p(x) = sum_k pi_k p_k(x), computed as logsumexp_k(log pi_k + log p_k(x)).

    ``components`` has batch shape (..., K), its last batch axis indexing the components;
    ``mixture`` is a Categorical over K with batch shape (...).
    """

    def __init__(self, mixture: Categorical, components: Distribution) -> None:
        if components.batch_shape[-1:] != (mixture.num_classes,):
            raise ValueError(
                f"MixtureSameFamily: components of batch shape {components.batch_shape} do not "
                f"end in the mixture's {mixture.num_classes} classes"
            )
        self.mixture, self.components = mixture, components
        self.batch_shape = components.batch_shape[:-1]
        self.event_shape = components.event_shape

    def log_prob(self, x: Any) -> Tensor:
        x = ad.as_constant(x)
        # (..., *event) -> (..., 1, *event): broadcast against the K components
        log_pk = self.components.log_prob(ad.unsqueeze(x, x.ndim - len(self.event_shape)))
        return ad.logsumexp(self.mixture.logits + log_pk, axis=-1)

    def sample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> np.ndarray:
        """Draw a component k ~ pi, then x ~ p_k (ancestral sampling)."""
        sample_shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)
        k = self.mixture.sample(sample_shape, rng=rng)  # sample_shape + batch
        every = self.components.sample(sample_shape, rng=rng)  # sample + batch + (K,) + event
        axis = len(sample_shape) + len(self.batch_shape)  # the components' axis
        index = k.reshape(k.shape + (1,) * (1 + len(self.event_shape)))
        index = np.broadcast_to(index, k.shape + (1,) + self.event_shape)
        return np.take_along_axis(every, index, axis).squeeze(axis)
