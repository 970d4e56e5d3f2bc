"""Layer and group normalisation:

    y = (x - mean) / sqrt(var + eps) * weight + bias

over the last dimensions (layer norm: Ba, Kiros & Hinton 2016) or over each group of channels
and all positions (group norm: Wu & He 2018, eq. 1-3).

Both are one primitive, the kernel ``kernels.normalization`` (two passes over the data each
way; composed of engine operations the map was 9 primitives forward and 19 backward, and
kept the scaled array alive for the backward besides the standardised one). Its layout is
x (N, G, K, P) with the statistics over (K, P), and weight and bias (G, K, 1) for group norm
(K channels of P positions per group) or (1, 1, P) for layer norm (rows of P numbers). With
x_hat = (x - mean) rstd, rstd = 1 / sqrt(var + eps), and the upstream gradient g:

    dx_hat = g weight,    dx = rstd (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)),
    dweight = sum(g x_hat),    dbias = sum(g)      (sums over what weight and bias broadcast)

The forward keeps only the mean and rstd (one number per normalised group). When backward
records a graph (higher orders), the VJP is this formula in engine operations from a
composite x_hat, so that the gradient is itself differentiable in x.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from kernels import normalization as _kernel

_AXES = (2, 3)


def _normalise_forward(x, weight, bias, eps):
    y, mean, rstd = _kernel.normalise(x, weight, bias, eps)
    return y, (mean, rstd)


def _composite_vjp(g: Tensor, x: Tensor, weight: Tensor, bias: Tensor, eps: float):
    """The formulas above in engine operations, x_hat from its definition."""
    centred = x - ad.mean(x, axis=_AXES, keepdims=True)
    rstd = 1 / ad.sqrt(ad.mean(centred * centred, axis=_AXES, keepdims=True) + eps)
    x_hat = centred * rstd
    dx_hat = g * weight
    mean_g = ad.mean(dx_hat, axis=_AXES, keepdims=True)
    mean_gx = ad.mean(dx_hat * x_hat, axis=_AXES, keepdims=True)
    dx = rstd * (dx_hat - mean_g - x_hat * mean_gx)
    return dx, ad.sum_to(g * x_hat, weight.shape), ad.sum_to(g, bias.shape)


def _normalise_vjp(g, ans, x, weight, bias, eps, saved):
    if ad.is_grad_enabled():  # backward is recording a graph: the differentiable path
        return _composite_vjp(g, x, weight, bias, eps)
    grads = _kernel.normalise_grad(x.data, weight.data, g.data, *saved)
    return tuple(Tensor(a) for a in grads)


_normalise = ad.primitive(_normalise_forward, name="normalise", saves=True)
_normalise.defvjp_joint(_normalise_vjp)


def _affine(p: Any, shape: tuple[int, ...], like: Tensor, fill: float) -> Tensor:
    if p is None:
        return ad.Tensor(np.full(shape, fill, dtype=like.dtype))
    return ad.reshape(ad.astype(ad.as_constant(p), like.dtype), shape)


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise over the trailing ``normalized_shape`` dimensions."""
    x = ad.as_constant(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in {shape}")
    size = int(np.prod(shape))
    rows = ad.reshape(x, (-1, 1, 1, size))
    y = _normalise(rows, _affine(weight, (1, 1, size), x, 1.0),
                   _affine(bias, (1, 1, size), x, 0.0), eps=float(eps))  # fmt: skip
    return ad.reshape(y, x.shape)


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
    per_channel = (num_groups, c // num_groups, 1)
    grouped = ad.reshape(x, (n, num_groups, c // num_groups, -1))
    y = _normalise(grouped, _affine(weight, per_channel, x, 1.0),
                   _affine(bias, per_channel, x, 0.0), eps=float(eps))  # fmt: skip
    return ad.reshape(y, x.shape)
