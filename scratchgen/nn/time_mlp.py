"""f(x, t) for vectors: an MLP that reads a noise level's or a diffusion time's sinusoidal
features beside x, the vector counterpart of the UNet (``scratchgen.nn.unet``) for the score
and diffusion models on 2-D data; ``noise_conditional_network`` picks one or the other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn.layers import MLP, ClassEmbedding, SiLU
from scratchgen.nn.layers.embedding import sinusoidal_embedding
from scratchgen.nn.module import Module
from scratchgen.nn.unet import UNet


class NoiseConditionalMLP(Module):
    """f(x, t) = MLP([x, sinusoids(t)]) through ``hidden`` with SiLU, (n, D) -> (n, D) or,
    with ``out_features``, (n, out_features), with t the noise level's position (a number or
    (n,)) fed to ``sinusoidal_embedding``. With ``num_classes`` it is f(x, t, y) =
    MLP([x, sinusoids(t), e(y)]), e a learned ``ClassEmbedding`` of ``embedding`` numbers
    whose label ``num_classes`` is the null class."""

    def __init__(self, features: int, hidden: Sequence[int], embedding: int, *,
                 out_features: int | None = None, num_classes: int | None = None,
                 rng: np.random.Generator, dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.embedding = embedding
        self.class_embedding = (None if num_classes is None else
                                ClassEmbedding(num_classes, embedding, rng=rng, dtype=dtype,
                                               owner="NoiseConditionalMLP"))  # fmt: skip
        inputs = features + embedding * (1 if num_classes is None else 2)
        self.net = MLP([inputs, *hidden, out_features or features], SiLU, rng=rng, dtype=dtype)

    def forward(self, x: Tensor, t: Any, y: Any = None) -> Tensor:
        n = x.shape[0]
        t = np.broadcast_to(np.asarray(t, np.float64), (n,))
        parts = [x, sinusoidal_embedding(t, self.embedding, dtype=x.dtype)]
        if self.class_embedding is not None:
            parts.append(self.class_embedding(y, n))
        elif y is not None:
            raise ValueError("NoiseConditionalMLP: labels given to a network built without "
                             "num_classes")  # fmt: skip
        return self.net(ad.concatenate(parts, axis=1))


def noise_conditional_network(shape: tuple[int, ...], hidden: Sequence[int], embedding: int,
                              channels: int, multipliers: Sequence[int], res_blocks: int,
                              attention: Sequence[int] | None, groups: int, *,
                              outputs: int = 1, num_classes: int | None = None,
                              context_dim: int | None = None, rng: np.random.Generator,
                              dtype: Any) -> Module:  # fmt: skip
    """f(x, t) for examples of ``shape``: the UNet for images (C, H, W), with ``channels``,
    ``multipliers``, ``res_blocks``, ``attention`` and ``groups``; else the MLP through
    ``hidden`` with ``embedding`` sinusoidal features of t. It returns ``outputs`` maps of the
    examples' shape side by side along axis 1 (two for a mean and a variance). With
    ``num_classes`` either reads a label too, f(x, t, y), ``num_classes`` being the null one;
    with ``context_dim`` the UNet attends to a context (text) at its attention sides."""
    if len(shape) == 3:
        C, H, W = shape
        return UNet(C, (H, W), channels, multipliers, res_blocks, attention or (), groups=groups,
                    out_channels=outputs * C, num_classes=num_classes, context_dim=context_dim,
                    rng=rng, dtype=dtype)  # fmt: skip
    if context_dim is not None:
        raise ValueError("a context (text) conditions the UNet, on images; these are vectors")
    D = int(np.prod(shape))
    return NoiseConditionalMLP(D, hidden, embedding, out_features=outputs * D,
                               num_classes=num_classes, rng=rng, dtype=dtype)  # fmt: skip
