"""Numerical checks of gradients: ``gradcheck`` (first order) and ``gradgradcheck`` (second).

Both test the VJP in random directions rather than entry by entry. For a function f with
Jacobian J at x, a random input direction u and a random output direction v,

    analytic   <v, J u> = <J^T v, u>          (one backward pass: the VJP under test)
    numerical  <v, J u> ~ <v, (f(x + eps u) - f(x - eps u)) / (2 eps)>   (central differences)

The two agree for every (u, v) only if J^T v is right, and a wrong Jacobian entry shows up for
almost every random direction; a few directions per input make a miss vanishingly unlikely.
Central differences err by O(eps^2) plus rounding O(1e-16 / eps), so the inputs must be
float64. The idea is HIPS autograd's ``check_grads`` (test_util.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autodiff import shape as _shape
from autodiff.backward import grad
from autodiff.grad_mode import enable_grad
from autodiff.tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


def _as_inputs(inputs: Sequence[Any]) -> tuple[list[Tensor], list[int]]:
    """Tensors for the inputs, and the positions of the ones to differentiate."""
    tensors, wrt = [], []
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            array = np.asarray(x)
            x = Tensor(array, requires_grad=np.issubdtype(array.dtype, np.floating))
        if x.requires_grad:
            if x.dtype != np.float64:
                raise ValueError(
                    f"gradcheck: input {k} is {x.dtype}; finite differences need float64 inputs"
                )
            wrt.append(k)
        tensors.append(x)
    return tensors, wrt


def _flat_output(out: Any) -> Tensor:
    if isinstance(out, (tuple, list)):
        return _shape.concatenate([_shape.reshape(o, (-1,)) for o in out])
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: the function must return a Tensor, got {type(out).__name__}")
    return out


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    n_directions: int = 3,
    seed: int = 0,
) -> bool:
    """Compare each input's VJP with central differences in random directions.

    ``inputs``: Tensors (those with ``requires_grad=True`` are checked) or arrays (floating
    arrays are checked). ``fn`` returns a Tensor (or a tuple of Tensors). Returns True, or
    raises ``GradcheckError`` naming the input and the two numbers that disagree.
    """
    rng = np.random.default_rng(seed)
    tensors, wrt = _as_inputs(inputs)
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    out = _flat_output(fn(*tensors))
    if not np.issubdtype(out.dtype, np.floating):
        raise TypeError(f"gradcheck: the output must be floating point, got {out.dtype}")

    def f_at(k: int, x: np.ndarray) -> np.ndarray:
        # Recording stays on: fn may itself call grad (a gradient penalty, a VJP).
        args = list(tensors)
        args[k] = Tensor(x)
        return _flat_output(fn(*args)).data

    for _ in range(n_directions):
        v = rng.standard_normal(out.shape)
        if out.requires_grad:
            vjps = grad(out, [tensors[k] for k in wrt], v, retain_graph=True, allow_unused=True)
        else:
            vjps = (None,) * len(wrt)
        for k, vjp in zip(wrt, vjps):
            x = tensors[k].data
            u = rng.standard_normal(x.shape)
            analytic = 0.0 if vjp is None else float(np.sum(vjp.data * u))
            jvp = (f_at(k, x + eps * u) - f_at(k, x - eps * u)) / (2 * eps)
            numerical = float(np.sum(jvp * v))
            if not abs(analytic - numerical) <= atol + rtol * abs(numerical):
                raise GradcheckError(
                    f"gradcheck: input {k} of shape {x.shape}: VJP gives <v, J u> = "
                    f"{analytic:.10g} but finite differences give {numerical:.10g}"
                )
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    n_directions: int = 3,
    seed: int = 0,
) -> bool:
    """Check second derivatives: ``gradcheck`` of the VJP itself.

    The checked function is (x, v) -> J(x)^T v, built with ``create_graph=True``; including the
    output direction v among its inputs also checks that the VJP is linear in v.
    """
    rng = np.random.default_rng(seed + 1)
    tensors, wrt = _as_inputs(inputs)
    out = _flat_output(fn(*tensors))
    v = Tensor(rng.standard_normal(out.shape), requires_grad=True)

    def vjp(*args: Tensor) -> Tensor:
        *xs, v_ = args
        # At the perturbed points of the finite differences the inputs arrive as plain
        # tensors; the VJP still needs them as leaves of a graph.
        xs = [
            Tensor(x.data, requires_grad=True) if k in wrt and not x.requires_grad else x
            for k, x in enumerate(xs)
        ]
        with enable_grad():
            y = _flat_output(fn(*xs))
            gs = grad(y, [xs[k] for k in wrt], v_, create_graph=True, allow_unused=True)
            flat = [
                _shape.reshape(g, (-1,)) if g is not None else Tensor(np.zeros(xs[k].size))
                for k, g in zip(wrt, gs)
            ]
            return _shape.concatenate(flat)

    try:
        return gradcheck(vjp, [*tensors, v], eps, atol, rtol, n_directions, seed)
    except GradcheckError as error:
        detail = str(error).removeprefix("gradcheck: ")
        raise GradcheckError(f"gradgradcheck (the VJP's own derivative): {detail}") from None
