"""Softmax cross-entropy from logits, one fused primitive:

    l = -log softmax(z)_y = logsumexp(z) - z_y,        dl/dz = softmax(z) - onehot(y).

Composed of engine operations (log_softmax, then picking the target) the forward kept a full
log-probability array and the backward scattered into zeros; here the forward keeps only the
log-sum-exp, and the backward is one pass over the logits. When backward records a graph
(higher orders), the VJP is the same formula with a composite softmax, differentiable in z.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _cross_entropy_forward(z: np.ndarray, y: np.ndarray, axis: int):
    """(l, logsumexp(z)): the primitive keeps the log-sum-exp for its backward."""
    m = np.max(z, axis=axis, keepdims=True)
    lse = np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)) + m
    picked = np.take_along_axis(z, np.expand_dims(y, axis), axis=axis)
    return np.squeeze(lse - picked, axis=axis), lse


def _onehot(y: np.ndarray, axis: int, like: np.ndarray) -> np.ndarray:
    out = np.zeros(like.shape, dtype=like.dtype)
    np.put_along_axis(out, np.expand_dims(y, axis), 1, axis=axis)
    return out


def _cross_entropy_vjp(g, ans, z, y, axis, saved):
    if ad.is_grad_enabled():  # backward is recording a graph: the differentiable path
        p = ad.softmax(z, axis=axis)
        return ad.unsqueeze(g, axis) * (p - _onehot(y, axis, z.data))
    p = np.exp(z.data - saved)
    target = np.expand_dims(y, axis)
    np.put_along_axis(p, target, np.take_along_axis(p, target, axis) - 1, axis=axis)
    p *= np.expand_dims(g.data, axis)
    return Tensor(p)


_cross_entropy = ad.primitive(_cross_entropy_forward, name="cross_entropy", saves=True)
_cross_entropy.defvjp(_cross_entropy_vjp)


def cross_entropy(input: Any, target: Any, reduction: str = "mean", dim: int = 1) -> Tensor:
    """-log softmax(input)_target along the class axis ``dim``: input (N, C) or (N, C, d1, ...)
    and integer target (N,) or (N, d1, ...), as ``torch.nn.functional.cross_entropy``;
    ``reduction`` is "mean", "sum" or "none" (per element). ``dim`` (not in PyTorch) moves the
    class axis, e.g. ``dim=-1`` for a language model's (N, T, V) logits."""
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}"
        )
    z = ad.as_constant(input)
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"cross_entropy: target must hold class indices (integers), got {y.dtype}")
    if z.ndim < 1:
        raise ValueError("cross_entropy: input must have a class axis")
    axis = dim % z.ndim
    expected = z.shape[:axis] + z.shape[axis + 1 :]
    if y.shape != expected:
        raise ValueError(
            f"cross_entropy: input of shape {z.shape} with classes on axis {axis} needs a "
            f"target of shape {expected}, got {y.shape}"
        )
    classes = z.shape[axis]
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(
            f"cross_entropy: targets run from {y.min()} to {y.max()}, outside [0, {classes})"
        )
    losses = _cross_entropy(z, y=y.astype(np.int64, copy=False), axis=axis)
    if reduction == "none":
        return losses
    return ad.sum(losses) if reduction == "sum" else ad.mean(losses)
