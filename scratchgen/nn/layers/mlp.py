"""``MLP``: Linear layers with an activation between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn.layers.activation import ReLU
from scratchgen.nn.layers.containers import Sequential
from scratchgen.nn.layers.linear import Linear
from scratchgen.nn.module import Module


class MLP(Module):
    """sizes (d_0, ..., d_L): L Linear layers d_{l-1} -> d_l, ``activation()`` after each but
    the last."""

    def __init__(self, sizes: Sequence[int], activation: Callable[[], Module] = ReLU, *,
                 rng: np.random.Generator, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        layers: list[Module] = []
        for l, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(d_in, d_out, rng=rng, dtype=dtype))
            if l < len(sizes) - 2:
                layers.append(activation())
        self.net = Sequential(*layers)

    def forward(self, x: Any) -> Tensor:
        return self.net(x)
