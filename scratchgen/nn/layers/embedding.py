"""Lookup tables and fixed position/time features."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn import init
from scratchgen.nn.module import Module, Parameter


class Embedding(Module):
    """A learned vector per token: ``weight[indices]``, weight initialised N(0, 1)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.weight = Parameter(init.normal(rng, (num_embeddings, embedding_dim), 1.0, dtype))

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, {self.weight.shape[1]}"


def sinusoidal_embedding(positions: Any, dim: int, max_period: float = 10_000.0,
                         dtype: Any = np.float32) -> Tensor:  # fmt: skip
    """Fixed features of a position or a diffusion time t (Vaswani et al. 2017, section 3.5):

        e[t, i] = sin(t / max_period^(i / h)),   e[t, h + i] = cos(t / max_period^(i / h))

    for i < h = dim / 2: geometric frequencies from 1 down to 1/max_period. ``positions`` may
    be fractional (continuous-time diffusion) and has any shape; the result adds a last axis.
    """
    if dim % 2:
        raise ValueError(f"sinusoidal_embedding: dim must be even, got {dim}")
    t = np.asarray(positions.data if isinstance(positions, Tensor) else positions, dtype=dtype)
    half = dim // 2
    frequencies = np.exp(-np.log(max_period) * np.arange(half) / half).astype(dtype)
    angles = t[..., None] * frequencies
    return ad.Tensor(np.concatenate([np.sin(angles), np.cos(angles)], axis=-1))


class SinusoidalEmbedding(Module):
    """``sinusoidal_embedding`` as a layer (no parameters)."""

    def __init__(self, dim: int, max_period: float = 10_000.0, dtype: Any = np.float32) -> None:
        super().__init__()
        self.dim, self.max_period, self.dtype = dim, max_period, dtype

    def forward(self, positions: Any) -> Tensor:
        return sinusoidal_embedding(positions, self.dim, self.max_period, self.dtype)
