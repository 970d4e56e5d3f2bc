"""Affine maps, lookups and dropout with PyTorch's names."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor


def _affine_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    # every leading axis as rows of one product, and the bias added into its fresh output:
    # as matmul + add, a second array of the output's size and one more pass over it
    rows = x.reshape(-1, x.shape[-1])
    y = rows @ weight.T
    y += bias
    return y.reshape(x.shape[:-1] + weight.shape[:1])


def _rows(a: Tensor) -> Tensor:
    return ad.reshape(a, (-1, a.shape[-1]))


# y = x W^T + b:  dx = g W,  dW = g^T x (over every leading axis),  db = sum of g's rows; in
# engine operations, so that gradients of gradients work
_affine = ad.primitive(_affine_forward, name="linear")
_affine.defvjp(lambda g, ans, x, weight, bias: g @ weight,
               lambda g, ans, x, weight, bias: ad.transpose(_rows(g)) @ _rows(x),
               lambda g, ans, x, weight, bias: ad.sum(_rows(g), axis=0))  # fmt: skip


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """y = x W^T + b, weight (out_features, in_features) as in PyTorch."""
    x, weight = ad.as_constant(input), ad.as_constant(weight)
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(
            f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} features but "
            f"weight {weight.shape} expects {weight.shape[1]}"
        )
    if bias is None:
        return x @ ad.transpose(weight)
    bias = ad.as_constant(bias)
    if bias.shape != weight.shape[:1]:
        raise ValueError(f"linear: bias of shape {bias.shape} for weight {weight.shape}; "
                         f"expected ({weight.shape[0]},)")  # fmt: skip
    return _affine(x, weight, bias)


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
