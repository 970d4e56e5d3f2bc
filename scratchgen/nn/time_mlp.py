"""f(x, t) for vectors: an MLP that reads a noise level's or a diffusion time's sinusoidal
features beside x, the vector counterpart of the UNet (``scratchgen.nn.unet``) for the score
and diffusion models on 2-D data; ``noise_conditional_network`` picks one or the other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn.layers import MLP, SiLU
from scratchgen.nn.layers.embedding import sinusoidal_embedding
from scratchgen.nn.module import Module
from scratchgen.nn.unet import UNet


class NoiseConditionalMLP(Module):
    """f(x, t) = MLP([x, sinusoids(t)]) through ``hidden`` with SiLU, (n, D) -> (n, D) or,
    with ``out_features``, (n, out_features), with t the noise level's position (a number or
    (n,)) fed to ``sinusoidal_embedding``."""

    def __init__(self, features: int, hidden: Sequence[int], embedding: int, *,
                 out_features: int | None = None, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.embedding = embedding
        self.net = MLP([features + embedding, *hidden, out_features or features], SiLU, rng=rng,
                       dtype=dtype)  # fmt: skip

    def forward(self, x: Tensor, t: Any) -> Tensor:
        t = np.broadcast_to(np.asarray(t, np.float64), (x.shape[0],))
        features = sinusoidal_embedding(t, self.embedding, dtype=x.dtype)
        return self.net(ad.concatenate([x, features], axis=1))


def noise_conditional_network(shape: tuple[int, ...], hidden: Sequence[int], embedding: int,
                              channels: int, multipliers: Sequence[int], res_blocks: int,
                              attention: Sequence[int] | None, groups: int, *,
                              outputs: int = 1, rng: np.random.Generator,
                              dtype: Any) -> Module:  # fmt: skip
    """f(x, t) for examples of ``shape``: the UNet for images (C, H, W), with ``channels``,
    ``multipliers``, ``res_blocks``, ``attention`` and ``groups``; else the MLP through
    ``hidden`` with ``embedding`` sinusoidal features of t. It returns ``outputs`` maps of the
    examples' shape side by side along axis 1 (two for a mean and a variance)."""
    if len(shape) == 3:
        C, H, W = shape
        return UNet(C, (H, W), channels, multipliers, res_blocks, attention or (), groups=groups,
                    out_channels=outputs * C, rng=rng, dtype=dtype)  # fmt: skip
    D = int(np.prod(shape))
    return NoiseConditionalMLP(D, hidden, embedding, out_features=outputs * D, rng=rng,
                               dtype=dtype)  # fmt: skip
