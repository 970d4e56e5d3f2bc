"""MADE's masks (Germain et al., "MADE: Masked Autoencoder for Distribution Estimation", 2015)
and ``MaskedLinear``, the layer that applies one: y = x (M * W)^T + b.

Give input d the degree m_0(d) = its position in the ordering (1..D), each hidden unit k of
layer l a degree m_l(k) in [min m_{l-1}, D - 1]; then (their eq. 12-13)

    hidden mask   M_l[k, j] = 1[m_l(k) >= m_{l-1}(j)]
    output mask   M_out[d, k] = 1[m_0(d) > m_L(k)]

and a path from input j to output d exists only if m_0(j) < m_0(d): output d is a function of
the inputs before d alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn.layers.linear import Linear


def made_masks(d: int, hidden: Sequence[int], rng: np.random.Generator,
               ordering: np.ndarray) -> list[np.ndarray]:  # fmt: skip
    """The masks of one MADE: one (out, in) 0/1 array per layer, for the given ordering."""
    degrees = [np.empty(d, dtype=int)]
    degrees[0][ordering] = np.arange(1, d + 1)  # input d's position in the ordering
    for size in hidden:
        low = min(int(degrees[-1].min()), d - 1)
        degrees.append(rng.integers(low, d, size=size))  # in [low, d - 1]
    masks = [(later[:, None] >= earlier[None, :]).astype(np.float32)
             for earlier, later in zip(degrees[:-1], degrees[1:])]  # fmt: skip
    masks.append((degrees[0][:, None] > degrees[-1][None, :]).astype(np.float32))
    return masks


class MaskedLinear(Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 ``mask`` (out, in)."""

    def __init__(self, mask: np.ndarray, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        out_features, in_features = mask.shape
        super().__init__(in_features, out_features, rng=rng, dtype=dtype)
        self.register_buffer("mask", np.asarray(mask, dtype=dtype))

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)
