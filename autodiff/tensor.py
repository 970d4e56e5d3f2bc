"""The ``Tensor``: an ndarray, and the record of the operation that produced it.

A tensor made by a primitive while gradients are enabled and some input requires grad keeps a
``Node``: the primitive, its input tensors and its static parameters. Those nodes are the graph
that ``backward`` walks. A leaf (made by the user) has no node; if it requires grad, backward
accumulates into its ``.grad``.

Tensors are immutable: there is no in-place operation, so a saved input can never change under
the graph that needs it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

_PYTHON_SCALARS = (bool, int, float)
_creation_order = itertools.count()


class Node:
    """How a tensor was made: ``op(*inputs, **params)``. ``inputs`` is None once freed.

    ``seq`` numbers nodes in order of creation. A node's inputs always exist before it, so
    decreasing ``seq`` is a reverse topological order of any graph: backward needs no
    post-order traversal of its own.
    """

    __slots__ = ("op", "inputs", "params", "saved", "seq")

    def __init__(
        self, op: Any, inputs: tuple[Tensor, ...], params: dict[str, Any], saved: Any = None
    ) -> None:
        self.op = op
        self.inputs: tuple[Tensor, ...] | None = inputs
        self.params = params
        self.saved = saved  # what a primitive with saves=True kept for its VJP
        self.seq = next(_creation_order)


class Tensor:
    """An ndarray with an optional place in a differentiable graph.

    ``Tensor(data, requires_grad=False, dtype=None)`` keeps the array's dtype (a Python list of
    floats becomes float64, as in NumPy). Only floating-point tensors may require grad.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "__weakref__")

    # NumPy's binary operators defer to ours (ndarray + Tensor -> Tensor.__radd__).
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        array = np.asarray(data, dtype=dtype)
        if requires_grad and not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f"only floating-point tensors can require gradients; got dtype {array.dtype}"
            )
        self.data: np.ndarray = array
        self.grad: Tensor | None = None
        self.requires_grad: bool = bool(requires_grad)
        self._node: Node | None = None

    @classmethod
    def _wrap(cls, array: np.ndarray, node: Node | None = None) -> Tensor:
        """Fast constructor for the engine: no conversion, no checks."""
        t = cls.__new__(cls)
        t.data = array
        t.grad = None
        t.requires_grad = node is not None
        t._node = node
        return t

    # ------------------------------------------------------------------ array protocol
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        """Number of elements (NumPy's meaning of ``size``)."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def op_name(self) -> str | None:
        """Name of the primitive that made this tensor, or None for a leaf."""
        return None if self._node is None else self._node.op.name

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> Any:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._wrap(self.data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ""
        if self._node is not None:
            extra = f", op={self._node.op.name}"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.data.dtype not in (np.float64, np.int64, np.bool_):
            extra = f", dtype={self.data.dtype}{extra}"
        return f"Tensor({body}{extra})"

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            "Tensors are immutable (an in-place write would corrupt the graph); build a new "
            "tensor with where(), concatenate() or pad() instead"
        )

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as a variable to differentiate with respect to; returns self."""
        if self._node is not None:
            raise ValueError("requires_grad_ applies to leaves only; use detach() first")
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(
                f"only floating-point tensors can require gradients; got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ autodiff
    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``autodiff.backward``)."""
        _backward.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------------ operators
    def __add__(self, other: Any) -> Tensor:
        return _ew.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ew.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ew.subtract(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ew.subtract(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ew.multiply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ew.multiply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ew.divide(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ew.divide(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ew.power(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ew.power(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _linalg.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ew.negative(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ew.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _indexing.getitem(self, index)

    # Comparisons give boolean tensors outside the graph (their derivative is zero a.e.).
    def __lt__(self, other: Any) -> Tensor:
        return _ew.compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ew.compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ew.compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ew.compare(np.greater_equal, self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ew.compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ew.compare(np.not_equal, self, other)

    # ------------------------------------------------------------------ methods
    def exp(self) -> Tensor:
        return _ew.exp(self)

    def log(self) -> Tensor:
        return _ew.log(self)

    def log1p(self) -> Tensor:
        return _ew.log1p(self)

    def expm1(self) -> Tensor:
        return _ew.expm1(self)

    def sqrt(self) -> Tensor:
        return _ew.sqrt(self)

    def abs(self) -> Tensor:
        return _ew.abs(self)

    def tanh(self) -> Tensor:
        return _ew.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ew.sigmoid(self)

    def relu(self) -> Tensor:
        return _ew.relu(self)

    def softplus(self) -> Tensor:
        return _ew.softplus(self)

    def log_sigmoid(self) -> Tensor:
        return _ew.log_sigmoid(self)

    def sin(self) -> Tensor:
        return _ew.sin(self)

    def cos(self) -> Tensor:
        return _ew.cos(self)

    def clip(self, a_min: Any = None, a_max: Any = None) -> Tensor:
        return _ew.clip(self, a_min, a_max)

    def astype(self, dtype: Any) -> Tensor:
        return _ew.astype(self, dtype)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _red.sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _red.mean(self, axis, keepdims)

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return _red.var(self, axis, ddof, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _red.max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _red.min(self, axis, keepdims)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return _red.logsumexp(self, axis, keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return _red.softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _red.log_softmax(self, axis)

    def cumsum(self, axis: int | None = None) -> Tensor:
        return _red.cumsum(self, axis)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return _shape.reshape(self, shape)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]
        return _shape.transpose(self, axes if axes else None)

    @property
    def T(self) -> Tensor:
        return _shape.transpose(self, None)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _shape.swapaxes(self, axis1, axis2)

    def expand(self, *sizes: Any) -> Tensor:
        return _shape.expand(self, *sizes)

    def broadcast_to(self, shape: Any) -> Tensor:
        return _shape.broadcast_to(self, shape)

    def squeeze(self, axis: Any = None) -> Tensor:
        return _shape.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return _shape.unsqueeze(self, axis)

    def flatten(self) -> Tensor:
        return _shape.reshape(self, (-1,))


# The operator modules import Tensor, so they can only be imported once the class exists.
from autodiff import backward as _backward  # noqa: E402
from autodiff import elementwise as _ew  # noqa: E402
from autodiff import indexing as _indexing  # noqa: E402
from autodiff import linalg as _linalg  # noqa: E402
from autodiff import reductions as _red  # noqa: E402
from autodiff import shape as _shape  # noqa: E402
