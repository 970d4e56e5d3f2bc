"""Affine maps, lookups and dropout with PyTorch's names."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """y = x W^T + b, weight (out_features, in_features) as in PyTorch."""
    x, weight = ad.as_constant(input), ad.as_constant(weight)
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(
            f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features but "
            f"weight {weight.shape} expects {weight.shape[1]}"
        )
    y = x @ ad.transpose(weight)
    return y if bias is None else y + bias


def embedding(input: Any, weight: Any) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input`` (any shape): weight[input]."""
    indices = np.asarray(input.data if isinstance(input, Tensor) else input)
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    weight = ad.as_constant(weight)
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError(
            f"embedding: indices run from {indices.min()} to {indices.max()} but there are "
            f"{weight.shape[0]} embeddings"
        )
    return weight[indices]


def dropout(input: Any, p: float, rng: np.random.Generator, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p), so the
    expectation is unchanged (inverted dropout, Srivastava et al. 2014). Identity when not
    training."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must lie in [0, 1), got {p}")
    x = ad.as_constant(input)
    if not training or p == 0.0:
        return x
    keep = rng.random(x.shape) >= p
    return x * (keep / (1.0 - p)).astype(x.dtype)
