"""Layer and group normalisation, composed of engine operations (so differentiable to any order).

    y = (x - mean) / sqrt(var + eps) * weight + bias

over the last dimensions (layer norm: Ba, Kiros & Hinton 2016) or over each group of channels
and all positions (group norm: Wu & He 2018, eq. 1-3).
"""

from __future__ import annotations

from typing import Any

import autodiff as ad
from autodiff import Tensor


def _standardise(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    mean = ad.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = ad.mean(centred * centred, axis=axes, keepdims=True)
    return centred / ad.sqrt(var + eps)


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise over the trailing ``normalized_shape`` dimensions."""
    x = ad.as_constant(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in {shape}")
    y = _standardise(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise (N, C, ...) over each of ``num_groups`` groups of channels and all positions."""
    x = ad.as_constant(input)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: input of shape {x.shape} needs (N, C, ...) with C divisible by "
            f"num_groups={num_groups}"
        )
    n, c = x.shape[:2]
    grouped = ad.reshape(x, (n, num_groups, -1))
    y = ad.reshape(_standardise(grouped, (2,), eps), x.shape)
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * ad.reshape(weight, per_channel)
    return y if bias is None else y + ad.reshape(bias, per_channel)
