"""``ActNorm`` (Glow, Kingma & Dhariwal 2018, section 3.1): a per-channel affine map,

    z = (x - mu_c) exp(-log sigma_c),      log |det dz/dx| = -(H W) sum_c log sigma_c

for images (n, C, H, W), where every one of the H W pixels of channel c shares the scale
(H W = 1 for vectors (n, C)). Its parameters are initialised from data: on the first batch
they are set so that each channel of the output has zero mean and unit variance, a
data-dependent start that keeps a deep stack's activations in range from the first step
(where batch normalisation would, without its dependence on the batch).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Pair
from scratchgen.nn import Module, Parameter


class ActNorm(Bijection):
    def __init__(self, channels: int, dtype: Any = np.float32) -> None:
        super().__init__()
        self.loc = Parameter(np.zeros(channels), dtype=dtype)
        self.log_scale = Parameter(np.zeros(channels), dtype=dtype)
        self.register_buffer("initialized", np.zeros((), dtype=bool))
        self.pending = False  # set by initialize_actnorm: take the next batch's statistics

    def _broadcast(self, p: Tensor, ndim: int) -> Tensor:
        return ad.reshape(p, (1, -1) + (1,) * (ndim - 2))

    def _logdet(self, x: Tensor) -> Tensor:
        pixels = int(np.prod(x.shape[2:])) if x.ndim > 2 else 1
        return -pixels * ad.sum(self.log_scale) * np.ones(x.shape[0], x.dtype)

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        if self.pending:
            axes = (0, *range(2, x.ndim))
            self.loc.data[...] = x.data.mean(axis=axes)
            self.log_scale.data[...] = np.log(x.data.std(axis=axes) + 1e-6)
            self.initialized[...], self.pending = True, False
        loc, log_scale = self._broadcast(self.loc, x.ndim), self._broadcast(self.log_scale, x.ndim)
        return (x - loc) * ad.exp(-log_scale), self._logdet(x)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        loc, log_scale = self._broadcast(self.loc, z.ndim), self._broadcast(self.log_scale, z.ndim)
        return z * ad.exp(log_scale) + loc, -self._logdet(z)


def initialize_actnorm(flow: Module, x: Any, context: Any = None) -> int:
    """Give every ActNorm in ``flow`` not yet initialised the statistics of its input on the
    batch x (one forward pass, in order, so each sees the already normalised output of those
    before it); returns how many were initialised."""
    layers = [m for _, m in flow.named_modules() if isinstance(m, ActNorm)]
    waiting = [m for m in layers if not bool(m.initialized)]
    for m in waiting:
        m.pending = True
    if waiting:
        with ad.no_grad():
            flow(ad.as_constant(x), context)
    return len(waiting)
