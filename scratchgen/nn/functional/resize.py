"""Nearest-neighbour upsampling: each pixel repeated into an s x s block.

Written as a broadcast (n, c, h, 1, w, 1) -> (n, c, h, s, w, s) and a reshape, so its gradient
is the engine's: the sum over each block.
"""

from __future__ import annotations

from typing import Any

import autodiff as ad
from autodiff import Tensor


def interpolate(input: Any, scale_factor: int = 2, mode: str = "nearest") -> Tensor:
    """(N, C, H, W) -> (N, C, s H, s W) for an integer s, as ``torch.nn.functional.interpolate``
    with mode="nearest" (the only mode here)."""
    if mode != "nearest":
        raise ValueError(f"interpolate: only mode='nearest' is available, got {mode!r}")
    s = int(scale_factor)
    if s != scale_factor or s < 1:
        raise ValueError(
            f"interpolate: scale_factor must be a positive integer, got {scale_factor}"
        )
    x = ad.as_constant(input)
    if x.ndim != 4:
        raise ValueError(f"interpolate: expected (N, C, H, W), got shape {x.shape}")
    n, c, h, w = x.shape
    blocks = ad.broadcast_to(ad.reshape(x, (n, c, h, 1, w, 1)), (n, c, h, s, w, s))
    return ad.reshape(blocks, (n, c, h * s, w * s))
