"""Glow (Kingma & Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions", 2018).

One step of flow (their figure 2a) is ActNorm, an invertible 1x1 convolution (LU-parametrised)
and an affine coupling on half of the channels. On images, ``scales`` levels of the multi-scale
architecture (figure 2b): squeeze, ``depth`` steps of flow (their K), and half of the channels
factored out before the next level; on MNIST with two levels, 28 x 28 -> 14 x 14 -> 7 x 7. On
vectors, the same step with a dense LU layer (H W = 1) and half masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchgen import bijections as B
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.flows.base import FlowModel, image_data, on_vectors
from scratchgen.settings import Layers, Positive, Size


@register("glow", ("binary", "categorical", "continuous"),
          "Glow: ActNorm, LU 1x1 convolutions, affine couplings, multi-scale")  # fmt: skip
class Glow(FlowModel):
    def __init__(self, info: DataInfo, depth: Layers = 4, scales: Layers = 2,
                 hidden: Sequence[Size] = (64, 64), filters: Size = 32, blocks: Layers = 1,
                 bound: Positive = 3.0, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, depth=depth, scales=scales, hidden=list(hidden), filters=filters,
                         blocks=blocks, bound=bound, **hparams)  # fmt: skip

    def _step(self, shape: tuple[int, ...], parity: int, context: int,
              rng: np.random.Generator) -> list[B.Bijection]:  # fmt: skip
        h, C = self.hparams, shape[0]
        if len(shape) == 3:
            mask = B.channel_mask(shape, parity)
            net = B.ConvConditioner(C, 2 * C, h["filters"], h["blocks"], context, rng=rng,
                                    dtype=self.dtype)  # fmt: skip
        else:
            mask = B.half_mask(C, parity)
            net = B.MLPConditioner(C, 2 * C, h["hidden"], context, rng=rng, dtype=self.dtype)
        return [B.ActNorm(C, self.dtype), B.InvertibleConv1x1(C, rng=rng, dtype=self.dtype),
                B.AffineCoupling(mask, net, h["bound"])]  # fmt: skip

    def _steps(self, shape: tuple[int, ...], context: int, rng: np.random.Generator) -> (
            B.Compose):  # fmt: skip
        return B.Compose(layer for i in range(self.hparams["depth"])
                         for layer in self._step(shape, i % 2, context, rng))  # fmt: skip

    def layers(self, shape: tuple[int, ...], context: int, rng: np.random.Generator) -> (
            B.Bijection):  # fmt: skip
        if not image_data(shape):
            D = int(np.prod(shape))
            return on_vectors(shape, [self._steps((D,), context, rng)])
        return self._level(shape, 1, context, rng)

    def _level(self, shape: tuple[int, ...], level: int, context: int,
               rng: np.random.Generator) -> B.Bijection:  # fmt: skip
        C, H, W = shape
        if H % 2 or W % 2:
            raise ValueError(f"glow: {level - 1} levels leave {H} x {W} images, which cannot be "
                             "squeezed again; use fewer scales")  # fmt: skip
        squeezed = (4 * C, H // 2, W // 2)
        inner = None
        if level < self.hparams["scales"]:
            inner = self._level((2 * C, H // 2, W // 2), level + 1, context, rng)
        return B.MultiScale(self._steps(squeezed, context, rng), inner)
