"""The multi-scale architecture of RealNVP (Dinh et al. 2017, section 3.6) and Glow.

``Squeeze`` trades space for channels, (C, H, W) -> (4C, H/2, W/2), each 2 x 2 block of
pixels becoming four channels: a permutation of the entries, so log |det| = 0.

``MultiScale(steps, inner)`` is one scale: squeeze, apply ``steps``, then factor out half of the
channels, which go to the latent as they are, and apply ``inner`` (the next scale, or nothing)
to the other half only. The outputs are put back together and unsqueezed, so that z has the
shape of x and the base density is one N(0, I) over all of it; the log-det is the sum of those
of ``steps`` and ``inner``. The factored-out half costs nothing at the scales below, which is
the point: computation shrinks with each scale, and the latents come in levels of detail.

``Reshape`` flattens images for the flows that work on vectors.
"""

from __future__ import annotations

from typing import Any

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Pair, zeros_logdet


def squeeze(x: Tensor) -> Tensor:
    """(n, C, H, W) -> (n, 4C, H/2, W/2): out[:, 4c + 2i + j, h, w] = x[:, c, 2h + i, 2w + j]."""
    n, C, H, W = x.shape
    if H % 2 or W % 2:
        raise ValueError(f"Squeeze: height and width must be even, got {H} x {W}")
    blocks = ad.reshape(x, (n, C, H // 2, 2, W // 2, 2))
    return ad.reshape(ad.transpose(blocks, (0, 1, 3, 5, 2, 4)), (n, 4 * C, H // 2, W // 2))


def unsqueeze(z: Tensor) -> Tensor:
    """The inverse of ``squeeze``: (n, 4C, H, W) -> (n, C, 2H, 2W)."""
    n, C4, H, W = z.shape
    blocks = ad.reshape(z, (n, C4 // 4, 2, 2, H, W))
    return ad.reshape(ad.transpose(blocks, (0, 1, 4, 2, 5, 3)), (n, C4 // 4, 2 * H, 2 * W))


class Squeeze(Bijection):
    def forward(self, x: Tensor, context: Any = None) -> Pair:
        return squeeze(x), zeros_logdet(x)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        return unsqueeze(z), zeros_logdet(z)


class MultiScale(Bijection):
    """One scale: squeeze, ``steps``, factor out half the channels, ``inner`` on the rest."""

    def __init__(self, steps: Bijection, inner: Bijection | None = None) -> None:
        super().__init__()
        self.steps, self.inner = steps, inner

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        h, logdet = self.steps(squeeze(x), context)
        half = h.shape[1] // 2
        kept, rest = h[:, :half], h[:, half:]
        if self.inner is not None:
            rest, inner_logdet = self.inner(rest, context)
            logdet = logdet + inner_logdet
        return unsqueeze(ad.concatenate([kept, rest], axis=1)), logdet

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        h = squeeze(z)
        half = h.shape[1] // 2
        kept, rest = h[:, :half], h[:, half:]
        logdet = zeros_logdet(z)
        if self.inner is not None:
            rest, logdet = self.inner.inverse(rest, context)
        x, steps_logdet = self.steps.inverse(ad.concatenate([kept, rest], axis=1), context)
        return unsqueeze(x), logdet + steps_logdet


class Reshape(Bijection):
    """Examples of shape ``shape`` as vectors of their size (log |det| = 0): how a flow on
    vectors (MAF, NICE) reads images."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        return ad.reshape(x, (x.shape[0], -1)), zeros_logdet(x)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        return ad.reshape(z, (z.shape[0],) + self.shape), zeros_logdet(z)
