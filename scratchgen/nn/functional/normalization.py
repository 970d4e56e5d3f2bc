"""Layer and group normalisation:

    y = (x - mean) / sqrt(var + eps) * weight + bias

over the last dimensions (layer norm: Ba, Kiros & Hinton 2016) or over each group of channels
and all positions (group norm: Wu & He 2018, eq. 1-3).

The standardisation x_hat = (x - mean) rstd, rstd = 1 / sqrt(var + eps), is one primitive
(composed of engine operations it was 7 forward and 15 backward). Its VJP is

    dx = rstd (g - mean(g) - x_hat mean(g x_hat)),

NumPy on the arrays for a first-order backward; when backward records a graph (higher
orders), the same formula runs on engine operations from a composite x_hat, so that it is
itself differentiable in x.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor


def _standardise_forward(x: np.ndarray, axes: tuple[int, ...], eps: float):
    """(x_hat, rstd): the primitive keeps rstd for its backward (saves=True)."""
    centred = x - np.mean(x, axis=axes, keepdims=True)
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(var + x.dtype.type(eps))
    centred *= rstd
    return centred, rstd


def _standardise_composite(x: Tensor, axes: tuple[int, ...], eps: float):
    """(x_hat, rstd) in engine operations: the definition, differentiable to any order."""
    centred = x - ad.mean(x, axis=axes, keepdims=True)
    rstd = 1 / ad.sqrt(ad.mean(centred * centred, axis=axes, keepdims=True) + eps)
    return centred * rstd, rstd


def _standardise_grad(xp: Any, g: Any, x_hat: Any, rstd: Any, axes: tuple[int, ...]) -> Any:
    """dx = rstd (g - mean(g) - x_hat mean(g x_hat)), for arrays (xp = numpy) or tensors
    (xp = autodiff)."""
    mean_g = xp.mean(g, axis=axes, keepdims=True)
    mean_gx = xp.mean(g * x_hat, axis=axes, keepdims=True)
    return rstd * (g - mean_g - x_hat * mean_gx)


def _standardise_vjp(g, ans, x, axes, eps, saved):
    if ad.is_grad_enabled():  # backward is recording a graph: the differentiable path
        x_hat, rstd = _standardise_composite(x, axes, eps)
        return _standardise_grad(ad, g, x_hat, rstd, axes)
    return Tensor(_standardise_grad(np, g.data, ans.data, saved, axes))


_standardise = ad.primitive(_standardise_forward, name="standardise", saves=True)
_standardise.defvjp(_standardise_vjp)


def standardise(x: Any, axes: tuple[int, ...], eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) over ``axes`` (the biased variance, as both papers use)."""
    x = ad.as_constant(x)
    return _standardise(x, axes=tuple(a % x.ndim for a in axes), eps=float(eps))


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise over the trailing ``normalized_shape`` dimensions."""
    x = ad.as_constant(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in {shape}")
    y = standardise(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
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
    y = ad.reshape(standardise(grouped, (2,), eps), x.shape)
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * ad.reshape(weight, per_channel)
    return y if bias is None else y + ad.reshape(bias, per_channel)
