"""Reductions over axes: sum, mean, var, max, min, logsumexp, softmax, log_softmax, cumsum.

``sum_to`` lives here too: it is the one place where broadcasting is undone (the gradient of a
broadcast is a sum over the broadcast axes), used by the engine for every broadcasting
primitive and by the VJPs that broadcast on purpose.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from autodiff import shape as _shape  # shape needs sum_to, so the two refer by module
from autodiff.elementwise import exp
from autodiff.primitive import as_constant, primitive
from autodiff.tensor import Tensor


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a sequence, negatives allowed) as sorted non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of {ndim} dimensions")
        normalized.append(int(a) % builtins.max(ndim, 1))
    return tuple(sorted(set(normalized)))


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a keepdims reduction over ``axes`` produces."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _restore_reduced(g: Tensor, shape: tuple[int, ...], axes: tuple[int, ...]) -> Tensor:
    """Reshape a reduction's gradient to keepdims form, so it broadcasts against the input."""
    return _shape.reshape(g, _kept_shape(shape, axes))


# ---------------------------------------------------------------- sum and its inverse
def _sum_forward(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    return np.sum(x, axis=axes, keepdims=keepdims)


def _sum_vjp(g: Tensor, ans: Tensor, x: Tensor, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    """Every summed element receives the output's gradient: broadcast g back to x's shape."""
    return _shape.broadcast_to(_restore_reduced(g, x.shape, axes), x.shape)


_sum = primitive(_sum_forward, name="sum").defvjp(_sum_vjp)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes when None)."""
    x = as_constant(x)
    return _sum(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def sum_to(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum ``g`` over the axes along which ``shape`` was broadcast to ``g.shape``.

    The adjoint of ``broadcast_to(x, g.shape)``: leading axes that broadcasting added, and axes
    where ``shape`` has length 1 but ``g`` does not, are summed away.
    """
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"sum_to: cannot reduce shape {g.shape} to the longer shape {shape}")
    stretched = tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    return _shape.reshape(_sum(g, axes=tuple(range(lead)) + stretched, keepdims=True), shape)


# ---------------------------------------------------------------- means and variances
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``."""
    x = as_constant(x)
    axes = normalize_axes(axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes]))
    return sum(x, axes, keepdims) / float(count)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance, sum((x - mean)^2) / (N - ddof), as in ``np.var``."""
    x = as_constant(x)
    axes = normalize_axes(axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes]))
    if count - ddof <= 0:
        raise ValueError(f"var: {count} elements leave no degrees of freedom with ddof={ddof}")
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) / float(count - ddof)


# ---------------------------------------------------------------- max and min
def _extremum_vjp(g: Tensor, ans: Tensor, x: Tensor, axes: tuple[int, ...], keepdims: bool):
    """The gradient goes to the elements that attain the extremum, split evenly among ties."""
    kept = _kept_shape(x.shape, axes)
    winners = x.data == ans.data.reshape(kept)
    share = (winners / winners.sum(axis=axes, keepdims=True)).astype(x.dtype)
    return _shape.broadcast_to(_restore_reduced(g, x.shape, axes), x.shape) * share


_amax = primitive(lambda x, axes, keepdims: np.max(x, axis=axes, keepdims=keepdims), name="max")
_amax.defvjp(_extremum_vjp)
_amin = primitive(lambda x, axes, keepdims: np.min(x, axis=axes, keepdims=keepdims), name="min")
_amin.defvjp(_extremum_vjp)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Largest element over ``axis``."""
    x = as_constant(x)
    return _amax(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest element over ``axis``."""
    x = as_constant(x)
    return _amin(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


# ---------------------------------------------------------------- log-sum-exp and softmax
def _logsumexp_forward(x: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """log sum_i exp(x_i) = m + log sum_i exp(x_i - m) with m = max_i x_i: no overflow."""
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # all -inf (or an inf) rows: let the log say so
    with np.errstate(divide="ignore"):  # log 0 = -inf is the right answer for such a row
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axes)


def _logsumexp_vjp(g: Tensor, ans: Tensor, x: Tensor, axes: tuple[int, ...], keepdims: bool):
    """d/dx_i log sum_j exp(x_j) = exp(x_i - logsumexp(x)) = softmax(x)_i."""
    kept = _kept_shape(x.shape, axes)
    return _restore_reduced(g, x.shape, axes) * exp(x - _shape.reshape(ans, kept))


_logsumexp = primitive(_logsumexp_forward, name="logsumexp").defvjp(_logsumexp_vjp)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed without overflow."""
    x = as_constant(x)
    return _logsumexp(x, axes=normalize_axes(axis, x.ndim), keepdims=keepdims)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log softmax(x)_i = x_i - logsumexp(x)."""
    x = as_constant(x)
    return x - logsumexp(x, axis, keepdims=True)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i - logsumexp(x)): stable, and sums to one along ``axis``."""
    return exp(log_softmax(x, axis))


# ---------------------------------------------------------------- cumulative sum
def _reverse_cumsum(g: Tensor, axis: int) -> Tensor:
    """sum_{j >= i} g_j: the adjoint of a cumulative sum runs from the other end."""
    return _shape.flip(_cumsum(_shape.flip(g, axis), axis=axis), axis)


_cumsum = primitive(lambda x, axis: np.cumsum(x, axis=axis), name="cumsum")
_cumsum.defvjp(lambda g, ans, x, axis: _reverse_cumsum(g, axis))


def cumsum(x: Any, axis: int | None = None) -> Tensor:
    """Running sum along ``axis``; with None, along the flattened tensor (as ``np.cumsum``)."""
    x = as_constant(x)
    if axis is None:
        return _cumsum(_shape.reshape(x, (-1,)), axis=0)
    return _cumsum(x, axis=normalize_axes(axis, x.ndim)[0])
