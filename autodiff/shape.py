"""Operations that move elements without changing them: reshape, transpose, broadcast,
concatenate, pad, flip. Each VJP moves the gradient back the way the elements came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autodiff import indexing as _indexing
from autodiff import reductions as _red
from autodiff.primitive import as_constant, primitive
from autodiff.tensor import Tensor


def _shape_tuple(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(n) for n in shape)


# ---------------------------------------------------------------- reshape, squeeze, unsqueeze
def _reshape_forward(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    try:
        return np.reshape(x, shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}"
        ) from None


_reshape = primitive(_reshape_forward, name="reshape")
_reshape.defvjp(lambda g, ans, x, shape: _reshape(g, shape=x.shape))


def reshape(x: Any, shape: Any) -> Tensor:
    """The same elements in a new shape (one entry may be -1)."""
    return _reshape(x, shape=_shape_tuple(shape))


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Drop axes of length one (all of them when ``axis`` is None)."""
    x = as_constant(x)
    axes = _red.normalize_axes(axis, x.ndim)
    for a in axes:
        if axis is not None and x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} of shape {x.shape} has length {x.shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def unsqueeze(x: Any, axis: int) -> Tensor:
    """Insert an axis of length one at position ``axis`` (NumPy's ``expand_dims``)."""
    x = as_constant(x)
    return reshape(x, np.expand_dims(x.data, axis).shape)


# ---------------------------------------------------------------- axis permutations
def _transpose_forward(x: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
    return np.transpose(x, axes)


def _transpose_vjp(g: Tensor, ans: Tensor, x: Tensor, axes: tuple[int, ...] | None) -> Tensor:
    """Undo the permutation: the inverse of ``axes`` is its argsort."""
    inverse = None if axes is None else tuple(int(i) for i in np.argsort(axes))
    return _transpose(g, axes=inverse)


_transpose = primitive(_transpose_forward, name="transpose").defvjp(_transpose_vjp)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None), as ``np.transpose``."""
    x = as_constant(x)
    if axes is not None:
        axes = tuple(int(a) % max(x.ndim, 1) for a in axes)
        if sorted(axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes")
    return _transpose(x, axes=axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    x = as_constant(x)
    order = list(range(x.ndim))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return _transpose(x, axes=tuple(order))


# ---------------------------------------------------------------- broadcasting
def _broadcast_forward(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    try:
        return np.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None


_broadcast_to = primitive(_broadcast_forward, name="broadcast_to")
_broadcast_to.defvjp(lambda g, ans, x, shape: _red.sum_to(g, x.shape))


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """Repeat x along new or length-one axes to ``shape``; the gradient sums them back."""
    x = as_constant(x)
    shape = _shape_tuple(shape)
    if x.shape == shape:
        return x
    return _broadcast_to(x, shape=shape)


def expand(x: Any, *sizes: Any) -> Tensor:
    """PyTorch's ``expand``: ``broadcast_to`` where -1 keeps that axis's length."""
    x = as_constant(x)
    if len(sizes) == 1 and not isinstance(sizes[0], (int, np.integer)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - x.ndim
    shape = tuple(
        x.shape[i - lead] if (n == -1 and i >= lead) else int(n) for i, n in enumerate(sizes)
    )
    return broadcast_to(x, shape)


# ---------------------------------------------------------------- joining and padding
def _along(axis: int, ndim: int, piece: slice) -> tuple[slice, ...]:
    """An index that takes ``piece`` along ``axis`` and everything along the other axes."""
    index = [slice(None)] * ndim
    index[axis] = piece
    return tuple(index)


def _concatenate_vjp(argnum: int, g: Tensor, ans: Tensor, *xs: Tensor, axis: int) -> Tensor:
    """Input ``argnum`` receives its own slice of the gradient."""
    start = sum(x.shape[axis] for x in xs[:argnum])
    return g[_along(axis, g.ndim, slice(start, start + xs[argnum].shape[axis]))]


def _concatenate_forward(*xs: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(xs, axis=axis)


_concatenate = primitive(_concatenate_forward, name="concatenate")
_concatenate.defvjp_argnum(_concatenate_vjp)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; shapes must agree on the other axes."""
    if len(tensors) == 0:
        raise ValueError("concatenate: need at least one tensor")
    tensors = [as_constant(t) for t in tensors]
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be joined; use stack")
    axis = _red.normalize_axes(axis, ndim)[0]
    for t in tensors:
        if t.ndim != ndim or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, tensors[0].shape)) if i != axis
        ):
            shapes = [s.shape for s in tensors]
            raise ValueError(f"concatenate: shapes {shapes} differ off axis {axis}")
    return _concatenate(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    if len(tensors) == 0:
        raise ValueError("stack: need at least one tensor")
    tensors = [as_constant(t) for t in tensors]
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    axis = _red.normalize_axes(axis, tensors[0].ndim + 1)[0]
    return concatenate([unsqueeze(t, axis) for t in tensors], axis=axis)


def _pad_forward(x: np.ndarray, pad_width: tuple, constant_values: float) -> np.ndarray:
    return np.pad(x, pad_width, mode="constant", constant_values=constant_values)


def _pad_vjp(g: Tensor, ans: Tensor, x: Tensor, pad_width: tuple, constant_values: float):
    """The padding is constant: only the interior passes gradient back."""
    interior = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
    return g[interior]


_pad = primitive(_pad_forward, name="pad").defvjp(_pad_vjp)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0) -> Tensor:
    """Pad with a constant, ``pad_width`` as in ``np.pad`` (an int, a pair, or a pair per axis)."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, not {mode!r}")
    x = as_constant(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    if (widths < 0).any():
        raise ValueError(f"pad: widths must be non-negative, got {pad_width}")
    pad_width = tuple((int(a), int(b)) for a, b in widths)
    return _pad(x, pad_width=pad_width, constant_values=constant_values)


def flip(x: Any, axis: int) -> Tensor:
    """Reverse the order of elements along ``axis``."""
    x = as_constant(x)
    axis = _red.normalize_axes(axis, x.ndim)[0]
    return _indexing.getitem(x, _along(axis, x.ndim, slice(None, None, -1)))
