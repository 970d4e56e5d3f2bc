"""RealNVP (Dinh, Sohl-Dickstein & Bengio, "Density estimation using Real NVP", 2017).

Affine couplings (``bijections.coupling``) with alternating masks. On vectors: half masks and
an MLP conditioner. On images, the multi-scale architecture of their section 3.6 at each scale:
``couplings`` checkerboard couplings, a squeeze, ``couplings`` channel couplings, and half of
the channels factored out; the last scale has checkerboard couplings only. The conditioners
are small ResNets; the log-scales are tanh-bounded (``bound``) to keep deep stacks finite.
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


@register("realnvp", ("binary", "categorical", "continuous"),
          "RealNVP: affine couplings, multi-scale on images (class-conditional)")  # fmt: skip
class RealNVP(FlowModel):
    def __init__(self, info: DataInfo, couplings: Layers = 4, hidden: Sequence[Size] = (64, 64),
                 filters: Size = 32, blocks: Layers = 2, scales: Layers = 2,
                 bound: Positive = 3.0, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, couplings=couplings, hidden=list(hidden), filters=filters,
                         blocks=blocks, scales=scales, bound=bound, **hparams)  # fmt: skip

    def layers(self, shape: tuple[int, ...], context: int, rng: np.random.Generator) -> (
            B.Bijection):  # fmt: skip
        h = self.hparams
        if not image_data(shape):
            return coupling_stack_vector(shape, h["couplings"], h["hidden"], context,
                                         h["bound"], rng, self.dtype)  # fmt: skip
        return self._scale(shape, 1, context, rng)

    def _coupling(self, mask: np.ndarray, context: int, rng: np.random.Generator) -> B.Coupling:
        h, C = self.hparams, mask.shape[0]
        net = B.ConvConditioner(C, 2 * C, h["filters"], h["blocks"], context, rng=rng,
                                dtype=self.dtype)  # fmt: skip
        return B.AffineCoupling(mask, net, h["bound"])

    def _scale(self, shape: tuple[int, ...], scale: int, context: int,
               rng: np.random.Generator) -> B.Bijection:  # fmt: skip
        C, H, W = shape
        k = self.hparams["couplings"]
        layers = [self._coupling(B.checkerboard_mask(shape, i % 2), context, rng) for i in range(k)]
        if scale == self.hparams["scales"] or H % 2 or W % 2:
            return B.Compose(layers)
        squeezed = (4 * C, H // 2, W // 2)
        channels = B.Compose([self._coupling(B.channel_mask(squeezed, i % 2), context, rng)
                              for i in range(k)])  # fmt: skip
        inner = self._scale((2 * C, H // 2, W // 2), scale + 1, context, rng)
        return B.Compose(layers + [B.MultiScale(channels, inner)])


def coupling_stack_vector(shape: tuple[int, ...], couplings: int, hidden: Sequence[int],
                          context: int, bound: float, rng: np.random.Generator,
                          dtype: Any) -> B.Bijection:  # fmt: skip
    """Affine couplings on vectors with half masks of alternating parity and MLP conditioners."""
    D = int(np.prod(shape))
    return on_vectors(shape, [
        B.AffineCoupling(B.half_mask(D, i % 2),
                         B.MLPConditioner(D, 2 * D, hidden, context, rng=rng, dtype=dtype), bound)
        for i in range(couplings)
    ])  # fmt: skip
