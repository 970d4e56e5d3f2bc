"""Encoder and decoder networks shared by the latent-variable models: MLPs, or small
convolutional stacks for images.

The convolutional encoder halves the image twice (3x3 convolutions of stride 2) and the
decoder doubles it back twice (4x4 transposed convolutions of stride 2), as in the DCGAN-style
VAEs of the literature; images whose sides are not divisible by 4 use the MLP. A condition c
(a one-hot class, or an observed half of the image) is concatenated to the flat input of the
MLPs and to the latent code of the decoders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.nn import MLP, Conv2d, ConvTranspose2d, Linear, Module, Sequential
from scratchgen.nn.layers.activation import ReLU

ARCHITECTURES = ("mlp", "conv")


def check_architecture(arch: str, info: DataInfo) -> None:
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {arch!r}")
    if arch == "conv" and not (
        len(info.shape) == 3 and info.shape[1] % 4 == info.shape[2] % 4 == 0
    ):
        raise ValueError(
            f"arch='conv' needs images (C, H, W) with H and W divisible by 4, got {info.shape}"
        )


def _with_condition(h: Tensor, c: Any) -> Tensor:
    """[h, c] along the last axis, c broadcast over h's leading axes (the samples of z)."""
    if c is None:
        return h
    c = ad.as_constant(c).astype(h.dtype)
    return ad.concatenate([h, ad.broadcast_to(c, h.shape[:-1] + c.shape[-1:])], axis=-1)


class Encoder(Module):
    """x (n, *shape) and an optional condition c (n, m) -> (n, out)."""

    def __init__(self, info: DataInfo, out: int, hidden: Sequence[int], arch: str,
                 filters: int, condition: int, *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        check_architecture(arch, info)
        self.info, self.arch = info, arch
        if arch == "conv":
            C, H, W = info.shape
            self.features = Sequential(
                Conv2d(C, filters, 3, stride=2, padding=1, rng=rng, dtype=dtype), ReLU(),
                Conv2d(filters, 2 * filters, 3, stride=2, padding=1, rng=rng, dtype=dtype), ReLU(),
            )  # fmt: skip
            flat = 2 * filters * (H // 4) * (W // 4)
        else:
            flat = info.dims
        self.head = MLP([flat + condition, *hidden, out], rng=rng, dtype=dtype)

    def forward(self, x: Tensor, c: Any = None) -> Tensor:
        h = self.features(x) if self.arch == "conv" else x
        return self.head(_with_condition(ad.reshape(h, (x.shape[0], -1)), c))


class Decoder(Module):
    """z (..., L) and an optional condition c -> (..., D K), the Observation's layout."""

    def __init__(self, info: DataInfo, latent: int, per_dim: int, hidden: Sequence[int],
                 arch: str, filters: int, condition: int, *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        check_architecture(arch, info)
        self.info, self.arch, self.per_dim = info, arch, per_dim
        if arch == "conv":
            C, H, W = info.shape
            self.start = (2 * filters, H // 4, W // 4)
            self.head = Linear(latent + condition, int(np.prod(self.start)), rng=rng, dtype=dtype)
            self.upsample = Sequential(
                ReLU(),
                ConvTranspose2d(2 * filters, filters, 4, stride=2, padding=1, rng=rng, dtype=dtype),
                ReLU(),
                ConvTranspose2d(filters, C * per_dim, 4, stride=2, padding=1, rng=rng, dtype=dtype),
            )  # fmt: skip
        else:
            self.head = MLP([latent + condition, *hidden, info.dims * per_dim], rng=rng,
                            dtype=dtype)  # fmt: skip

    def forward(self, z: Tensor, c: Any = None) -> Tensor:
        lead = z.shape[:-1]
        h = self.head(_with_condition(z, c))
        if self.arch == "conv":
            n = int(np.prod(lead))
            h = images_to_outputs(self.upsample(ad.reshape(h, (n, *self.start))), self.per_dim)
        return ad.reshape(h, lead + (self.info.dims * self.per_dim,))


def images_to_outputs(images: Tensor, per_dim: int) -> Tensor:
    """(n, C K, H, W) feature maps -> (n, C H W K), the Observation's layout: channel c's
    K maps become the K outputs of each of its pixels."""
    n, channels, H, W = images.shape
    C = channels // per_dim
    # (n, C, K, H, W) -> (n, C, H, W, K): each dimension's K outputs together
    grouped = ad.transpose(ad.reshape(images, (n, C, per_dim, H, W)), (0, 1, 3, 4, 2))
    return ad.reshape(grouped, (n, C * H * W * per_dim))
