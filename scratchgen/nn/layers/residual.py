"""Residual connections: y = x + f(x) (He et al., "Deep Residual Learning", 2016, eq. 1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn.layers.activation import ReLU
from scratchgen.nn.layers.containers import Sequential
from scratchgen.nn.layers.conv import Conv2d
from scratchgen.nn.module import Module


class Residual(Module):
    """x + f(x) for any module f that keeps the shape."""

    def __init__(self, f: Module) -> None:
        super().__init__()
        self.f = f

    def forward(self, x: Any) -> Tensor:
        return x + self.f(x)


class ResidualBlock(Residual):
    """x + conv(relu(conv(relu(x)))) with 3x3 same-size convolutions: the block of image
    VAEs and PixelCNN heads (pre-activation form, He et al. 2016b)."""

    def __init__(self, channels: int, hidden: int | None = None, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        hidden = hidden or channels
        super().__init__(
            Sequential(
                ReLU(), Conv2d(channels, hidden, 3, padding=1, rng=rng, dtype=dtype),
                ReLU(), Conv2d(hidden, channels, 3, padding=1, rng=rng, dtype=dtype),
            )
        )  # fmt: skip
