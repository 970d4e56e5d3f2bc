"""Fixed permutations of the features (vectors) or channels (images), axis 1. A permutation
matrix has |det| = 1, so log |det| = 0; stacked between couplings or autoregressive layers
they let every dimension be transformed and condition the others."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Pair, zeros_logdet


class Permutation(Bijection):
    """z[:, i] = x[:, order[i]]; the inverse applies the inverse permutation."""

    def __init__(self, order: np.ndarray) -> None:
        super().__init__()
        order = np.asarray(order)
        if sorted(order.tolist()) != list(range(len(order))):
            raise ValueError(f"Permutation: {order.tolist()} is not a permutation of 0..n-1")
        self.register_buffer("order", order)
        self.register_buffer("undo", np.argsort(order))

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        return x[:, self.order], zeros_logdet(x)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        return z[:, self.undo], zeros_logdet(z)


class Reverse(Permutation):
    """z[:, i] = x[:, n - 1 - i]: the reversal MAF stacks between its layers."""

    def __init__(self, features: int) -> None:
        super().__init__(np.arange(features)[::-1].copy())
