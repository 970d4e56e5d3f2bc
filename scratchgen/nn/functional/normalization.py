"""Layer and group normalisation:

    y = (x - mean) / sqrt(var + eps) * weight + bias

over the last dimensions (layer norm: Ba, Kiros & Hinton 2016) or over each group of channels
and all positions (group norm: Wu & He 2018, eq. 1-3).

The whole map is one primitive (composed of engine operations it was 9 forward and 19
backward, and kept the scaled array alive for the backward besides the standardised one).
With x_hat = (x - mean) rstd, rstd = 1 / sqrt(var + eps), and the upstream gradient g:

    dx_hat = g weight,    dx = rstd (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)),
    dweight = sum(g x_hat),    dbias = sum(g)      (sums over what weight and bias broadcast)

The forward keeps only the mean and rstd (one number per normalised group); the backward
recomputes x_hat from x. At first order it runs NumPy on the arrays; when backward records a
graph (higher orders), the same formula runs on engine operations from a composite x_hat, so
that the gradient is itself differentiable in x.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor


def _statistics(x: np.ndarray, axes: tuple[int, ...], eps: float):
    mean = np.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    return centred, mean, 1 / np.sqrt(var + x.dtype.type(eps))


def _normalise_forward(x, weight, bias, axes, eps):
    """(y, (mean, rstd)): the primitive keeps the statistics for its backward (saves=True)."""
    y, mean, rstd = _statistics(x, axes, eps)
    y *= rstd
    y *= weight
    y += bias
    return y, (mean, rstd)


def _composite_x_hat(x: Tensor, axes: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor]:
    """(x_hat, rstd) in engine operations: the definition, differentiable to any order."""
    centred = x - ad.mean(x, axis=axes, keepdims=True)
    rstd = 1 / ad.sqrt(ad.mean(centred * centred, axis=axes, keepdims=True) + eps)
    return centred * rstd, rstd


def _array_sum_to(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return ad.sum_to(Tensor(a), shape).data


def _gradients(xp: Any, sum_to: Any, g, x_hat, rstd, weight, bias, axes):
    """(dx, dweight, dbias) by the formulas above, for arrays (xp = numpy) or tensors
    (xp = autodiff)."""
    dx_hat = g * weight
    mean_g = xp.mean(dx_hat, axis=axes, keepdims=True)
    mean_gx = xp.mean(dx_hat * x_hat, axis=axes, keepdims=True)
    dx = rstd * (dx_hat - mean_g - x_hat * mean_gx)
    return dx, sum_to(g * x_hat, weight.shape), sum_to(g, bias.shape)


def _normalise_vjp(g, ans, x, weight, bias, axes, eps, saved):
    if ad.is_grad_enabled():  # backward is recording a graph: the differentiable path
        x_hat, rstd = _composite_x_hat(x, axes, eps)
        return _gradients(ad, ad.sum_to, g, x_hat, rstd, weight, bias, axes)
    mean, rstd = saved
    x_hat = (x.data - mean) * rstd
    grads = _gradients(np, _array_sum_to, g.data, x_hat, rstd, weight.data, bias.data, axes)
    return tuple(Tensor(a) for a in grads)


_normalise = ad.primitive(_normalise_forward, name="normalise", saves=True)
_normalise.defvjp_joint(_normalise_vjp)


def normalise(x: Any, axes: tuple[int, ...], weight: Any = None, bias: Any = None,
              eps: float = 1e-5) -> Tensor:  # fmt: skip
    """(x - mean) / sqrt(var + eps) * weight + bias, the statistics over ``axes`` (the biased
    variance, as both papers use); weight and bias (default 1 and 0) broadcast against x."""
    x = ad.as_constant(x)
    one = np.ones((1,) * x.ndim, x.dtype)
    weight = ad.as_constant(one if weight is None else weight)
    bias = ad.as_constant(one * 0 if bias is None else bias)
    return _normalise(x, weight, bias, axes=tuple(a % x.ndim for a in axes), eps=float(eps))


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """Normalise over the trailing ``normalized_shape`` dimensions."""
    x = ad.as_constant(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in {shape}")
    return normalise(x, tuple(range(x.ndim - len(shape), x.ndim)), weight, bias, eps)


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
    # (N, G, C/G, positions): statistics over the last two axes, weight and bias per channel
    grouped = ad.reshape(x, (n, num_groups, c // num_groups, -1))
    per_channel = (1, num_groups, c // num_groups, 1)

    def affine(p: Any) -> Any:
        return None if p is None else ad.reshape(p, per_channel)

    y = normalise(grouped, (2, 3), affine(weight), affine(bias), eps)
    return ad.reshape(y, x.shape)
