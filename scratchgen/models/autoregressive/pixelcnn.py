"""PixelCNN (van den Oord et al., "Pixel Recurrent Neural Networks", 2016, section 3.5).

Pixels are generated in raster order and, within a pixel, channel by channel (R, G, B); the
likelihood, the output types, class conditioning and sampling are ``RasterImageModel``'s. A
stack of masked convolutions computes every conditional in one pass: the first layer uses
mask A (the current pixel's own channel and later ones hidden), the rest mask B (a feature may
see the features of its own channel group at the same position, which were computed from
earlier inputs only). Channel groups carry the colour order through the whole network, and the
output has K numbers per channel, grouped by channel like every layer.

Symbols: C channels, H x W pixels, F features per layer, K outputs per channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.raster import RasterImageModel
from scratchgen.models.base import register
from scratchgen.nn import MaskedConv2d, ModuleList
from scratchgen.settings import KernelSize, Layers, Size


@register("pixelcnn", ("binary", "categorical"), "PixelCNN: masked convolutions, raster order")
class PixelCNN(RasterImageModel):
    def __init__(self, info: DataInfo, filters: Size = 32, layers: Layers = 4,
                 kernel_size: KernelSize = 7, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, filters=filters, layers=layers, kernel_size=kernel_size, **hparams)
        C, rng = info.shape[0], np.random.default_rng(hparams.get("seed", 0))

        def conv(c_in: int, c_out: int, k: int, mask: str) -> MaskedConv2d:
            return MaskedConv2d(c_in, c_out, k, mask, color_groups=C, rng=rng,
                                dtype=self.dtype)  # fmt: skip

        self.input_layer = conv(C, filters, kernel_size, "A")
        self.blocks = ModuleList(conv(filters, filters, 3, "B") for _ in range(layers))
        self.hidden_head = conv(filters, filters, 1, "B")
        self.output_head = conv(filters, C * self.K, 1, "B")
        # biases for the input layer, each block and the hidden head
        self.add_class_biases([filters] * (layers + 2), rng)

    def logits(self, x: Tensor, y: Any = None) -> Tensor:
        """(n, C, K, H, W) outputs of every conditional (K = 1 for binary data)."""
        bias = self.class_biases(y, x.shape[0])
        h = self.input_layer(self.scaled(x)) + bias[0]
        for index, block in enumerate(self.blocks):
            # a residual of mask-B convolutions keeps the ordering
            h = h + block(ad.relu(h)) + bias[index + 1]
        h = self.hidden_head(ad.relu(h)) + bias[-1]
        out = self.output_head(ad.relu(h))
        n, _, H, W = out.shape
        return ad.reshape(out, (n, self.info.shape[0], self.K, H, W))
