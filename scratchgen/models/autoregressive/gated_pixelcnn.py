"""Gated PixelCNN (van den Oord et al., "Conditional Image Generation with PixelCNN Decoders",
2016, sections 2.1-2.3): no blind spot, gated units, class conditioning.

A masked 3x3 stack misses pixels above and to the right (the blind spot grows with depth).
Gated PixelCNN splits the receptive field in two stacks:

* the vertical stack convolves a (k//2 + 1) x k window covering the rows up to the current
  one, all columns around it; its features reach the horizontal stack only after a shift down
  by one row, so row i sees rows < i through them, to the left and to the right;
* the horizontal stack convolves a 1 x (k//2 + 1) window of the current row up to the current
  column (in the first layer, the current pixel only through its earlier colours: mask A).

Each layer is gated, y = tanh(W_f * x + b_f[y]) . sigmoid(W_g * x + b_g[y]) (eq. 2, and eq. 4
with a one-hot class), with the shifted vertical pre-activations added (1x1) to the horizontal
ones, and a residual 1x1 on the horizontal stack.

Colour images keep PixelCNN's channel groups (R -> G -> B) in the horizontal stack only: its
current-column tap is masked by group (mask A in the first layer, B after it), and so are its
1x1 convolutions and the heads. The vertical stack needs no colour mask, since it reaches
row i only from rows above. A gate pairs the tanh and sigmoid halves within each group, so a
group's features stay in their group. Likelihood, outputs, conditioning and sampling are
``RasterImageModel``'s.

Symbols: C channels, F features per stack, k the kernel size, k//2 its half-width.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.raster import RasterImageModel
from scratchgen.models.base import register
from scratchgen.nn import Conv2d, MaskedConv2d, ModuleList
from scratchgen.nn import functional as F
from scratchgen.nn.layers.masked_conv import pixelcnn_mask
from scratchgen.settings import KernelSize, Layers, Size


def _gate(pre: Tensor, groups: int) -> Tensor:
    """tanh(a) * sigmoid(b), where each colour group's block of channels is [a, b]."""
    n, channels, H, W = pre.shape
    pairs = ad.reshape(pre, (n, groups, 2, channels // (2 * groups), H, W))
    return ad.reshape(ad.tanh(pairs[:, :, 0]) * ad.sigmoid(pairs[:, :, 1]), (n, -1, H, W))


def _shift_down(t: Tensor) -> Tensor:
    """Row i takes row i - 1's features (zeros for the first row)."""
    return ad.pad(t, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1]


class RowConv(Conv2d):
    """The horizontal stack's 1 x (k//2 + 1) convolution: columns j - k//2 .. j of row i, the
    current column (j) masked by colour group as in PixelCNN (mask A or B)."""

    def __init__(self, in_channels: int, out_channels: int, k: int, mask_type: str,
                 color_groups: int, *, rng: np.random.Generator, dtype: Any) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, (1, k // 2 + 1), padding=(0, 0, k // 2, 0),
                         rng=rng, dtype=dtype)  # fmt: skip
        full = pixelcnn_mask(mask_type, in_channels, out_channels, (1, k), color_groups)
        self.register_buffer("mask", full[..., : k // 2 + 1])  # the taps right of j are all 0

    def forward(self, x: Any) -> Tensor:
        weight = self.weight * self.mask.astype(self.weight.dtype)
        return F.conv2d(x, weight, self.bias, padding=self.padding)


@register("gated_pixelcnn", ("binary", "categorical"), "Gated PixelCNN: no blind spot")
class GatedPixelCNN(RasterImageModel):
    def __init__(self, info: DataInfo, filters: Size = 32, layers: Layers = 4,
                 kernel_size: KernelSize = 5, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, filters=filters, layers=layers, kernel_size=kernel_size, **hparams)
        if kernel_size % 2 == 0:
            raise ValueError(f"Gated PixelCNN needs an odd kernel size, got {kernel_size}")
        C, k, Fh = info.shape[0], kernel_size, filters
        rng, dt = np.random.default_rng(hparams.get("seed", 0)), self.dtype
        self.groups = C

        def masked(c_in: int, c_out: int) -> MaskedConv2d:
            return MaskedConv2d(c_in, c_out, 1, "B", color_groups=C, rng=rng, dtype=dt)

        # rows i - k//2 .. i, columns j - k//2 .. j + k//2
        self.vertical = ModuleList(
            Conv2d(C if l == 0 else Fh, 2 * Fh, (k // 2 + 1, k),
                   padding=(k // 2, 0, k // 2, k // 2), rng=rng, dtype=dt)
            for l in range(layers)
        )  # fmt: skip
        self.horizontal = ModuleList(
            RowConv(C if l == 0 else Fh, 2 * Fh, k, "A" if l == 0 else "B", C, rng=rng, dtype=dt)
            for l in range(layers)
        )
        self.v_to_h = ModuleList(
            Conv2d(2 * Fh, 2 * Fh, 1, rng=rng, dtype=dt) for _ in range(layers)
        )
        self.h_out = ModuleList(masked(Fh, Fh) for _ in range(layers))
        self.head_1 = masked(Fh, Fh)
        self.head_2 = masked(Fh, C * self.K)
        self.add_class_biases([2 * Fh] * (2 * layers), rng)  # per layer: vertical, horizontal

    def logits(self, x: Tensor, y: Any = None) -> Tensor:
        """(n, C, K, H, W) outputs of every conditional."""
        bias = self.class_biases(y, x.shape[0])
        v = h = self.scaled(x)
        for l, (vconv, hconv, v2h, hout) in enumerate(
            zip(self.vertical, self.horizontal, self.v_to_h, self.h_out)
        ):
            v_pre = vconv(v) + bias[2 * l]
            h_pre = hconv(h) + v2h(_shift_down(v_pre)) + bias[2 * l + 1]
            h_gated = hout(_gate(h_pre, self.groups))
            h = h_gated if l == 0 else h + h_gated
            v = _gate(v_pre, self.groups)
        out = self.head_2(F.relu(self.head_1(F.relu(h))))
        n, _, H, W = out.shape
        return ad.reshape(out, (n, self.groups, self.K, H, W))
