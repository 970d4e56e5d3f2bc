"""Primitives: the operations the engine knows how to differentiate.

A primitive is two things side by side:

* a **forward** function of ndarrays, ``forward(*arrays, **params) -> ndarray``, and
* one **vector-Jacobian product** per differentiable argument,
  ``vjp_i(g, ans, *inputs, **params) -> Tensor``: given the gradient ``g`` of the final scalar
  with respect to the output ``ans``, return its gradient with respect to ``inputs[i]``,
  that is ``g`` contracted with the Jacobian d ans / d inputs[i].

The VJPs receive *Tensors* and must be written with the engine's own operations. That single
rule is what makes higher-order gradients free: when ``grad(..., create_graph=True)`` runs a
VJP with recording on, the VJP's own operations form a graph that can be differentiated again.

Positional arguments of a primitive are its tensor inputs (arrays and Python scalars are turned
into constant tensors; a Python scalar takes the dtype NumPy would give it, so ``x * 2`` keeps a
float32 ``x`` float32). Keyword arguments are static parameters (axes, shapes, indices) that
are passed unchanged to the forward and to every VJP.

Defining a new op takes three lines::

    import numpy as np
    from autodiff import primitive

    cube = primitive(lambda x: x**3, name="cube")
    cube.defvjp(lambda g, ans, x: g * 3 * x**2)

    # cube is now differentiable to any order: d^2/dx^2 x^3 = 6x
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autodiff.grad_mode import _GradMode
from autodiff.tensor import _PYTHON_SCALARS, Node, Tensor

VJP = Callable[..., Any]


_SCALARS: dict[tuple, Tensor] = {}
_SCALARS_MAX = 4096


def _scalar_constant(value: bool | int | float, like: Tensor) -> Tensor:
    """A 0-d constant with the dtype NumPy's promotion gives ``value`` next to ``like``.

    A float tensor absorbs any Python scalar (``x * 2`` keeps float32); other dtypes promote as
    NumPy says. Tensors are immutable, so one constant can serve every use of the same scalar:
    the cache saves the cost of building it, which is most of an op's overhead. Zero is not
    cached (-0.0 == 0.0 would share a sign), and NaN never hits (nan != nan).
    """
    dtype = like.data.dtype
    key = (type(value), value, dtype)
    constant = _SCALARS.get(key)
    if constant is None:
        if dtype.kind != "f":
            dtype = np.result_type(dtype, value)
        constant = Tensor._wrap(np.array(value, dtype=dtype))
        if value != 0:
            if len(_SCALARS) >= _SCALARS_MAX:
                _SCALARS.clear()
            _SCALARS[key] = constant
    return constant


def as_constant(value: Any, like: Tensor | None = None) -> Tensor:
    """A tensor outside the graph holding ``value``.

    A Python scalar takes the dtype NumPy's promotion would give it next to ``like`` (a float
    next to a float32 tensor stays float32); arrays keep their own dtype.
    """
    if isinstance(value, Tensor):
        return value
    if like is not None and type(value) in _PYTHON_SCALARS:
        return _scalar_constant(value, like)
    return Tensor._wrap(np.asarray(value))


class Primitive:
    """A differentiable operation: a forward on ndarrays and its VJPs in Tensor operations.

    ``broadcasting=True`` declares that the forward broadcasts its inputs as NumPy does; the
    engine then sums each input's gradient back to that input's shape (``sum_to``), so the
    VJPs may return gradients of the broadcast shape. Any other primitive must return gradients
    of exactly its input's shape, which the engine checks.

    ``saves=True`` declares a forward that returns ``(output, saved)``: ``saved`` (anything,
    e.g. attention's log-sum-exp) is kept with the graph and handed to the VJPs as the keyword
    ``saved``, so that backward need not recompute it (JAX's custom_vjp residuals).
    """

    __slots__ = ("name", "forward", "broadcasting", "saves", "_vjps", "_vjp_argnum", "_vjp_joint")

    def __init__(
        self,
        forward: Callable[..., Any],
        name: str | None = None,
        broadcasting: bool = False,
        saves: bool = False,
    ) -> None:
        self.forward = forward
        self.name = name or getattr(forward, "__name__", "primitive")
        self.broadcasting = broadcasting
        self.saves = saves
        self._vjps: tuple[VJP | None, ...] = ()
        self._vjp_argnum: VJP | None = None
        self._vjp_joint: VJP | None = None

    def defvjp(self, *vjps: VJP | None) -> Primitive:
        """One VJP per positional argument, in order; None marks an argument with no gradient."""
        self._vjps = vjps
        return self

    def defvjp_argnum(self, vjp: VJP) -> Primitive:
        """For ops with any number of inputs: ``vjp(argnum, g, ans, *inputs, **params)``."""
        self._vjp_argnum = vjp
        return self

    def defvjp_joint(self, vjp: VJP) -> Primitive:
        """For ops whose input gradients share their work: ``vjp(g, ans, *inputs, **params)``
        returns one gradient per input (None where there is none), called once per backward."""
        self._vjp_joint = vjp
        return self

    def __call__(self, *args: Any, **params: Any) -> Tensor:
        # The hot path of the whole engine: plain loops, no generators.
        for a in args:
            if type(a) is not Tensor:
                args = self._with_constants(args)
                break
        try:
            out = self.forward(*[t.data for t in args], **params)
        except ValueError as error:
            if not self.broadcasting:
                raise
            raise ValueError(f"{self.name}: {error}") from None  # name the op, keep NumPy's shapes
        saved = None
        if self.saves:
            out, saved = out
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if _GradMode.enabled:
            for t in args:
                if t.requires_grad:
                    return Tensor._wrap(out, Node(self, args, params, saved))
        return Tensor._wrap(out)

    @staticmethod
    def _with_constants(args: tuple) -> tuple[Tensor, ...]:
        like = None
        for a in args:
            if type(a) is Tensor:
                like = a
                break
        return tuple([a if type(a) is Tensor else as_constant(a, like) for a in args])

    def _params(self, node: Node) -> dict:
        return {**node.params, "saved": node.saved} if self.saves else node.params

    def vjp(self, argnum: int, g: Tensor, ans: Tensor, node: Node) -> Tensor | None:
        """Gradient with respect to input ``argnum`` of ``node``, given ``g`` for ``ans``."""
        if self._vjp_argnum is not None:
            return self._vjp_argnum(argnum, g, ans, *node.inputs, **self._params(node))
        try:
            vjp = self._vjps[argnum]
        except IndexError:
            vjp = None
        if vjp is None:
            raise NotImplementedError(
                f"{self.name}: no gradient is defined with respect to argument {argnum}"
            )
        return vjp(g, ans, *node.inputs, **self._params(node))

    def joint_vjp(self, g: Tensor, ans: Tensor, node: Node) -> tuple[Tensor | None, ...] | None:
        """Every input's gradient at once, for ops defined with ``defvjp_joint`` (else None)."""
        if self._vjp_joint is None:
            return None
        return tuple(self._vjp_joint(g, ans, *node.inputs, **self._params(node)))

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


def primitive(
    forward: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    broadcasting: bool = False,
    saves: bool = False,
) -> Any:
    """Make a ``Primitive`` from a forward function; usable as ``@primitive`` or a call.

    Then give its gradients with ``.defvjp(vjp_0, vjp_1, ...)`` (see the module docstring).
    """
    if forward is None:
        return lambda fn: Primitive(fn, name=name, broadcasting=broadcasting, saves=saves)
    return Primitive(forward, name=name, broadcasting=broadcasting, saves=saves)
