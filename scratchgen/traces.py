"""The trace of a Jacobian df/dx per example, through the engine: exactly, by D backward
passes, or by Hutchinson's one-pass estimate. The continuous flows' change of variables, exact
score matching and the diffusion ODE's likelihood all need it.

f and x have shape (n, ...) with the examples along the first axis, f of x's shape; f's
example k must depend on x's example k alone (no batch statistics), so that one backward pass
serves every example at once.
"""

from __future__ import annotations

import numpy as np

import autodiff as ad
from autodiff import Tensor


def _flat(a: Tensor) -> Tensor:
    return ad.reshape(a, (a.shape[0], -1))


def exact_trace(f: Tensor, x: Tensor, create_graph: bool) -> Tensor:
    """Tr(df/dx) per example, (n,): D backward passes, one per diagonal entry df_i/dx_i, D
    being an example's size. With ``create_graph`` the trace is differentiable again."""
    f_flat, total = _flat(f), 0
    for i in range(f_flat.shape[1]):
        (row,) = ad.grad(ad.sum(f_flat[:, i]), x, create_graph=create_graph, retain_graph=True)
        total = total + _flat(row)[:, i]
    return total


def hutchinson_trace(f: Tensor, x: Tensor, eps: np.ndarray, create_graph: bool) -> Tensor:
    """eps^T (df/dx) eps per example, (n,): one vector-Jacobian product, unbiased for the
    trace when E[eps eps^T] = I (Hutchinson 1989); eps has x's shape."""
    (vjp,) = ad.grad(f, x, grad_outputs=ad.Tensor(eps), create_graph=create_graph,
                     retain_graph=True)  # fmt: skip
    return ad.sum(_flat(vjp * eps), axis=1)
