"""Gated PixelCNN (van den Oord et al., "Conditional Image Generation with PixelCNN Decoders",
2016, section 2.1-2.2): no blind spot, and gated units.

A masked 3x3 stack misses pixels above and to the right (the blind spot grows with depth).
Gated PixelCNN splits the receptive field in two stacks:

* the vertical stack convolves a (k//2 + 1) x k window covering the rows up to the current
  one, all columns around it; its features reach the horizontal stack only after a shift down
  by one row, so row i sees rows < i through them, to the left and to the right;
* the horizontal stack convolves a 1 x (k//2 + 1) window of the current row up to the current
  column (up to, but not including it, in the first layer: mask A).

Each layer is gated, y = tanh(W_f * x) . sigmoid(W_g * x) (eq. 2), with the shifted vertical
pre-activations added (1x1) to the horizontal ones, and a residual 1x1 on the horizontal
stack. Here for one channel (grey images), binary or categorical.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import completion_start
from scratchgen.models.autoregressive.pixelcnn import _draw, value_log_likelihood
from scratchgen.models.base import GenerativeModel, register
from scratchgen.nn import Conv2d, ModuleList
from scratchgen.nn import functional as F


def _gate(pre: Tensor) -> Tensor:
    """tanh(first half of the channels) * sigmoid(second half)."""
    half = pre.shape[1] // 2
    return ad.tanh(pre[:, :half]) * ad.sigmoid(pre[:, half:])


def _shift_down(t: Tensor) -> Tensor:
    """Row i takes row i - 1's features (zeros for the first row)."""
    return ad.pad(t, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1]


@register("gated_pixelcnn", ("binary", "categorical"), "Gated PixelCNN: no blind spot",
          filters=32, layers=4, kernel_size=5)  # fmt: skip
class GatedPixelCNN(GenerativeModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, filters: int = 32, layers: int = 4, kernel_size: int = 5,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, filters=filters, layers=layers, kernel_size=kernel_size, **hparams)
        if len(info.shape) != 3 or info.shape[0] != 1:
            raise ValueError(
                f"Gated PixelCNN here models one-channel images (1, H, W), not {info.shape}"
            )
        if kernel_size % 2 == 0:
            raise ValueError(f"Gated PixelCNN needs an odd kernel size, got {kernel_size}")
        rng, dt, k, Fh = (
            np.random.default_rng(hparams.get("seed", 0)),
            self.dtype,
            kernel_size,
            filters,
        )
        self.levels = 2 if info.kind == "binary" else info.levels
        self.K = 1 if info.kind == "binary" else self.levels
        self.half = k // 2

        def conv(c_in: int, c_out: int, size: Any) -> Conv2d:
            return Conv2d(c_in, c_out, size, rng=rng, dtype=dt)

        self.vertical = ModuleList(
            conv(1 if l == 0 else Fh, 2 * Fh, (k // 2 + 1, k)) for l in range(layers)
        )
        width = [k // 2] + [k // 2 + 1] * (
            layers - 1
        )  # the first horizontal layer stops short of j
        self.horizontal = ModuleList(
            conv(1 if l == 0 else Fh, 2 * Fh, (1, width[l])) for l in range(layers)
        )
        self.v_to_h = ModuleList(conv(2 * Fh, 2 * Fh, 1) for _ in range(layers))
        self.h_out = ModuleList(conv(Fh, Fh, 1) for _ in range(layers))
        self.head_1 = conv(Fh, Fh, 1)
        self.head_2 = conv(Fh, self.K, 1)

    def logits(self, x: Tensor) -> Tensor:
        """(n, 1, K, H, W) logits of every conditional."""
        v = h = 2 * x / (self.levels - 1) - 1  # inputs scaled to [-1, 1]
        W = x.shape[3]
        for l, (vconv, hconv, v2h, hout) in enumerate(
            zip(self.vertical, self.horizontal, self.v_to_h, self.h_out)
        ):
            # vertical: rows i - k//2 .. i, columns j - k//2 .. j + k//2
            v_pre = F.conv2d(
                v, vconv.weight, vconv.bias, padding=(self.half, 0, self.half, self.half)
            )
            # horizontal: columns up to j (the first layer: up to j - 1, then cropped back to W)
            h_pre = F.conv2d(h, hconv.weight, hconv.bias, padding=(0, 0, self.half, 0))[..., :W]
            h_pre = h_pre + v2h(_shift_down(v_pre))
            h_gated = hout(_gate(h_pre))
            h = h_gated if l == 0 else h + h_gated
            v = _gate(v_pre)
        out = self.head_2(F.relu(self.head_1(F.relu(h))))
        n, _, H, W = out.shape
        return ad.reshape(out, (n, 1, self.K, H, W))

    def log_prob(self, x: Any) -> Tensor:
        x = self.as_input(x)
        return ad.sum(value_log_likelihood(self.logits(x), x), axis=(1, 2, 3))

    def sample(self, n: int, rng: np.random.Generator, given: Any = None,
               mask: Any = None) -> np.ndarray:  # fmt: skip
        _, H, W = self.info.shape
        flat, observed = completion_start(self, n, given, mask)
        x, observed = flat.reshape(n, 1, H, W), observed.reshape(1, H, W)
        with ad.no_grad():
            for i in range(H):
                for j in range(W):
                    if not observed[0, i, j]:
                        x[:, 0, i, j] = _draw(self.logits(ad.Tensor(x)).data[:, 0, :, i, j], rng)
        return x
