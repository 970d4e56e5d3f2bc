"""``MaskedConv2d``: PixelCNN's convolution that never sees the current pixel's future.

Pixels are generated in raster order, and within a pixel the colour channels in order
(R, then G, then B). A kernel centred on pixel (i, j), of any odd size, square or not, may
read (van den Oord et al., "Pixel Recurrent Neural Networks", 2016, section 3.4, figure 2):

* every row above i, and the pixels left of j in row i;
* at (i, j) itself, for output channel group g and input channel group h:
  mask A (first layer): h < g (the pixel's earlier colours only; none for grey images),
  mask B (later layers): h <= g (features of the same colour, computed from earlier inputs).

Channels are split into ``color_groups`` contiguous blocks: with 3 groups and 96 channels,
channels 0-31 are R, 32-63 G, 64-95 B. A single image channel per group (in_channels equal to
color_groups) is the first layer's case.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn.layers.conv import Conv2d


def pixelcnn_mask(mask_type: str, in_channels: int, out_channels: int, kernel_size: Any,
                  color_groups: int = 1) -> np.ndarray:  # fmt: skip
    """0/1 array (out, in, kh, kw) of the connections a masked convolution keeps; the kernel
    may be rectangular (Gated PixelCNN's stacks), but both sides must be odd so that it has a
    centre pixel."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else tuple(kernel_size)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"a masked convolution needs an odd kernel size, got {kh}x{kw}")
    if in_channels % color_groups or out_channels % color_groups:
        raise ValueError(
            f"{in_channels} input and {out_channels} output channels do not split into "
            f"{color_groups} colour groups"
        )
    row, col = kh // 2, kw // 2
    mask = np.zeros((out_channels, in_channels, kh, kw), dtype=np.float32)
    mask[:, :, :row, :] = 1  # rows above
    mask[:, :, row, :col] = 1  # left of centre
    group_out = np.arange(out_channels) // (out_channels // color_groups)
    group_in = np.arange(in_channels) // (in_channels // color_groups)
    earlier = group_in[None, :] < group_out[:, None]
    allowed = earlier if mask_type == "A" else earlier | (group_in[None, :] == group_out[:, None])
    mask[:, :, row, col] = allowed
    return mask


class MaskedConv2d(Conv2d):
    """A same-size convolution whose weight is multiplied by a PixelCNN mask of type A or B."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, mask_type: str,
                 color_groups: int = 1, bias: bool = True, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else tuple(kernel_size)
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2),
                         bias=bias, rng=rng, dtype=dtype)  # fmt: skip
        self.mask_type = mask_type
        self.register_buffer(
            "mask", pixelcnn_mask(mask_type, in_channels, out_channels, kernel_size, color_groups)
        )

    def forward(self, x: Any) -> Tensor:
        weight = self.weight * self.mask.astype(self.weight.dtype)
        return F.conv2d(x, weight, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mask_type={self.mask_type!r}"
