"""The energy and score models' networks. Energies E(x) -> (n,): an MLP for vectors and a
small convolutional network for images, both with Swish (SiLU) activations, as in Du &
Mordatch 2019 and the public EBM tutorials: smooth activations keep grad_x E smooth, which
Langevin sampling follows (a ReLU network's input gradient is piecewise constant). Noise
conditional scores use ``scratchgen.nn.time_mlp`` on vectors and ``scratchgen.nn.unet`` on
images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import nn
from scratchgen.nn import Module


class MLPEnergy(Module):
    """E(x) = MLP(x) through ``hidden`` with SiLU, a vector (n, D) to (n,)."""

    def __init__(self, features: int, hidden: Sequence[int], *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.net = nn.MLP([features, *hidden, 1], nn.SiLU, rng=rng, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return ad.reshape(self.net(x), (x.shape[0],))


class ConvEnergy(Module):
    """E(x) for images (n, C, H, W): a 3x3 convolution to ``filters`` channels, two stride-2
    3x3 convolutions to 2 and 4 ``filters``, each followed by SiLU, the mean over pixels, and
    a SiLU layer of 4 ``filters`` before the linear read-out."""

    def __init__(self, channels: int, filters: int, *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        f = filters
        self.features = nn.Sequential(
            nn.Conv2d(channels, f, 3, 1, 1, rng=rng, dtype=dtype), nn.SiLU(),
            nn.Conv2d(f, 2 * f, 3, 2, 1, rng=rng, dtype=dtype), nn.SiLU(),
            nn.Conv2d(2 * f, 4 * f, 3, 2, 1, rng=rng, dtype=dtype), nn.SiLU(),
        )  # fmt: skip
        self.head = nn.MLP([4 * f, 4 * f, 1], nn.SiLU, rng=rng, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        pooled = ad.mean(self.features(x), axis=(2, 3))
        return ad.reshape(self.head(pooled), (x.shape[0],))


def energy_network(shape: tuple[int, ...], hidden: Sequence[int], filters: int, *,
                   rng: np.random.Generator, dtype: Any) -> Module:  # fmt: skip
    """The MLP for vectors, the convolutional network for images (C, H, W)."""
    if len(shape) == 3:
        return ConvEnergy(shape[0], filters, rng=rng, dtype=dtype)
    return MLPEnergy(int(np.prod(shape)), hidden, rng=rng, dtype=dtype)
