"""The networks that compute a coupling's parameters theta from the part it keeps, x_1, and an
optional context c (a one-hot class, an encoder's features): theta = NN(x_1, c).

Their last layer starts at zero, so every coupling starts as the identity (theta = 0, see
``transforms.py``) and a deep stack starts stable, as Glow does (Kingma & Dhariwal 2018,
section 3.3, "zero initialization").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn import Conv2d, Linear, Module, ModuleList, ResidualBlock


def _zero(layer: Module) -> Module:
    layer.weight.data[...] = 0
    layer.bias.data[...] = 0
    return layer


class MLPConditioner(Module):
    """Vectors: [x_1, c] -> hidden (ReLU) -> theta, with ``out`` outputs."""

    def __init__(self, features: int, out: int, hidden: Sequence[int] = (64, 64),
                 context: int = 0, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        sizes = [features + context, *hidden]
        self.hidden = ModuleList(Linear(a, b, rng=rng, dtype=dtype)
                                 for a, b in zip(sizes[:-1], sizes[1:]))  # fmt: skip
        self.out = _zero(Linear(sizes[-1], out, rng=rng, dtype=dtype))

    def forward(self, x: Tensor, context: Any = None) -> Tensor:
        h = x if context is None else ad.concatenate([x, ad.as_constant(context)], axis=1)
        for layer in self.hidden:
            h = ad.relu(layer(h))
        return self.out(h)


class ConvConditioner(Module):
    """Images: [x_1, c] -> 3x3 conv -> residual blocks -> 3x3 conv to ``out`` channels (the
    ResNet conditioner of RealNVP, Dinh et al. 2017, section 4.1, small). A context vector
    (n, k) is broadcast over the pixels; a context image (n, k, H, W) is joined as channels."""

    def __init__(self, channels: int, out: int, filters: int = 32, blocks: int = 2,
                 context: int = 0, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.inp = Conv2d(channels + context, filters, 3, padding=1, rng=rng, dtype=dtype)
        self.blocks = ModuleList(ResidualBlock(filters, rng=rng, dtype=dtype)
                                 for _ in range(blocks))  # fmt: skip
        self.out = _zero(Conv2d(filters, out, 3, padding=1, rng=rng, dtype=dtype))

    def forward(self, x: Tensor, context: Any = None) -> Tensor:
        if context is not None:
            c = ad.as_constant(context)
            if c.ndim == 2:
                c = ad.broadcast_to(c.reshape(c.shape + (1, 1)), c.shape + x.shape[2:])
            x = ad.concatenate([x, c], axis=1)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h)
        return self.out(ad.relu(h))
