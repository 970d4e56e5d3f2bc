"""Linear algebra: matmul, and what flows and Gaussians need (slogdet, inv, solve, cholesky,
triangular_solve). All batched over leading axes, which broadcast as in NumPy.

Matrix calculus used below, for a scalar loss with gradient G = dL/dY (Giles, "An extended
collection of matrix derivative results for forward and reverse mode AD", 2008, section 2.2):

    Y = A B          dA = G B^T,               dB = A^T G
    Y = A^{-1}       dA = -Y^T G Y^T
    y = log|det A|   dA = g A^{-T}
    X = A^{-1} B     dB = A^{-T} G,            dA = -dB X^T
    A = L L^T        dA = sym(L^{-T} Phi(L^T dL) L^{-1})   (Murray 2016, arXiv:1602.07527)

where Phi takes the lower triangle and halves the diagonal, and sym(S) = (S + S^T) / 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autodiff import reductions as _red
from autodiff import shape as _shape
from autodiff.primitive import as_constant, primitive
from autodiff.tensor import Tensor


def _mT(x: Tensor) -> Tensor:
    """Transpose of the last two axes (each matrix in a batch)."""
    return _shape.swapaxes(x, -1, -2)


# ---------------------------------------------------------------- matmul
def _as_matrices(a: Tensor, b: Tensor, g: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Promote 1-D operands to matrices as ``np.matmul`` does, and g to the matching shape."""
    if a.ndim == 1:
        a = _shape.unsqueeze(a, 0)  # (k,) -> (1, k)
    if b.ndim == 1:
        b = _shape.unsqueeze(b, -1)  # (k,) -> (k, 1)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return a, b, _shape.reshape(g, batch + (a.shape[-2], b.shape[-1]))


def _matmul_vjp_a(g: Tensor, ans: Tensor, a: Tensor, b: Tensor) -> Tensor:
    a2, b2, g2 = _as_matrices(a, b, g)
    return _shape.reshape(_red.sum_to(g2 @ _mT(b2), a2.shape), a.shape)


def _matmul_vjp_b(g: Tensor, ans: Tensor, a: Tensor, b: Tensor) -> Tensor:
    if b.ndim == 2 and a.ndim > 2:  # sum_i A_i^T G_i is one product of the stacked rows
        k, n = b.shape
        return _mT(_shape.reshape(a, (-1, k))) @ _shape.reshape(g, (-1, n))
    a2, b2, g2 = _as_matrices(a, b, g)
    return _shape.reshape(_red.sum_to(_mT(a2) @ g2, b2.shape), b.shape)


def _matmul_forward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must have at least one dimension; use * for scalars")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align ({k_a} != {k_b})")
    if b.ndim == 2 and a.ndim > 2:
        # A stack of matrices against one: NumPy would loop over the stack with one small GEMM
        # each; its rows stacked make a single large one, which BLAS runs many times faster.
        rows = a.reshape(-1, k_a)
        return (rows @ b).reshape(a.shape[:-1] + (b.shape[1],))
    try:
        return np.matmul(a, b)
    except ValueError:
        raise ValueError(
            f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast"
        ) from None


matmul = primitive(_matmul_forward, name="matmul").defvjp(_matmul_vjp_a, _matmul_vjp_b)


def _check_square(name: str, a: Tensor) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: expected square matrices (..., n, n), got shape {a.shape}")


# ---------------------------------------------------------------- inverse and determinant
_inv = primitive(np.linalg.inv, name="inv")
_inv.defvjp(lambda g, ans, a: -(_mT(ans) @ g @ _mT(ans)))


def inv(a: Any) -> Tensor:
    """Matrix inverse A^{-1} (batched)."""
    a = as_constant(a)
    _check_square("inv", a)
    return _inv(a)


_logabsdet = primitive(lambda a: np.linalg.slogdet(a)[1], name="logabsdet")
_logabsdet.defvjp(lambda g, ans, a: _shape.unsqueeze(_shape.unsqueeze(g, -1), -1) * _mT(inv(a)))


def slogdet(a: Any) -> tuple[Tensor, Tensor]:
    """(sign, log|det A|) as in ``np.linalg.slogdet``; only the log-determinant has a gradient.

    The sign is piecewise constant, so it is returned outside the graph.
    """
    a = as_constant(a)
    _check_square("slogdet", a)
    sign = Tensor._wrap(np.asarray(np.linalg.slogdet(a.data)[0]))
    return sign, _logabsdet(a)


# ---------------------------------------------------------------- linear solves
def _solve_vjps(solve_transposed: Callable[..., Tensor], restrict: Callable[..., Tensor]):
    """The VJPs of X = A^{-1} B for a solver.

    ``solve_transposed(A, G, **params)`` must return A^{-T} G, and ``restrict(M, **params)``
    keeps the entries of a full matrix M that the solver reads from A (all of them for a general
    solve, one triangle for a triangular one). A 1-D B is one column, as in ``np.linalg.solve``.
    """

    def as_columns(b: Tensor, t: Tensor) -> Tensor:
        return _shape.unsqueeze(t, -1) if b.ndim == 1 else t

    def vjp_a(g: Tensor, ans: Tensor, a: Tensor, b: Tensor, **params: Any) -> Tensor:
        grad_b = solve_transposed(a, as_columns(b, g), **params)  # A^{-T} G
        grad_a = -(grad_b @ _mT(as_columns(b, ans)))  # -dB X^T
        return _red.sum_to(restrict(grad_a, **params), a.shape)

    def vjp_b(g: Tensor, ans: Tensor, a: Tensor, b: Tensor, **params: Any) -> Tensor:
        grad_b = solve_transposed(a, as_columns(b, g), **params)
        if b.ndim == 1:
            grad_b = _shape.squeeze(grad_b, -1)
        return _red.sum_to(grad_b, b.shape)

    return vjp_a, vjp_b


def _check_solve(name: str, a: Tensor, b: Tensor) -> None:
    _check_square(name, a)
    rows = b.shape[0] if b.ndim == 1 else (b.shape[-2] if b.ndim >= 2 else None)
    if rows != a.shape[-1]:
        raise ValueError(
            f"{name}: A of shape {a.shape} needs B of shape ({a.shape[-1]},) or "
            f"(..., {a.shape[-1]}, k); got {b.shape}"
        )


_solve = primitive(np.linalg.solve, name="solve")
_solve.defvjp(*_solve_vjps(lambda a, g: solve(_mT(a), g), lambda m: m))


def solve(a: Any, b: Any) -> Tensor:
    """X = A^{-1} B for square A (batched); B is (n,) or (..., n, k) as in NumPy 2."""
    a, b = as_constant(a), as_constant(b)
    _check_solve("solve", a, b)
    return _solve(a, b)


def _triangle(x: np.ndarray | Tensor, lower: bool) -> np.ndarray:
    """0/1 mask of the lower (or upper) triangle of x's matrices, diagonal included."""
    n = x.shape[-1]
    return np.tril(np.ones((n, n), dtype=x.dtype)) if lower else np.triu(np.ones((n, n), x.dtype))


def _triangular_solve_forward(a: np.ndarray, b: np.ndarray, lower: bool) -> np.ndarray:
    # Only the triangle is read, as LAPACK's trsm would; the other half may hold anything.
    return np.linalg.solve(a * _triangle(a, lower), b)


_triangular_solve = primitive(_triangular_solve_forward, name="triangular_solve")
_triangular_solve.defvjp(
    *_solve_vjps(
        lambda a, g, lower: triangular_solve(_mT(a), g, lower=not lower),
        lambda m, lower: m * _triangle(m, lower),
    )
)


def triangular_solve(a: Any, b: Any, lower: bool = True) -> Tensor:
    """X = A^{-1} B for triangular A (lower by default; only that triangle of A is read)."""
    a, b = as_constant(a), as_constant(b)
    _check_solve("triangular_solve", a, b)
    return _triangular_solve(a, b, lower=bool(lower))


# ---------------------------------------------------------------- Cholesky
def _phi(x: Tensor) -> Tensor:
    """Lower triangle of x with its diagonal halved."""
    n = x.shape[-1]
    return x * (np.tril(np.ones((n, n), dtype=x.dtype)) - 0.5 * np.eye(n, dtype=x.dtype))


def _cholesky_vjp(g: Tensor, ans: Tensor, a: Tensor) -> Tensor:
    """dA = sym(L^{-T} Phi(L^T dL) L^{-1}), with dL restricted to the lower triangle."""
    L = ans
    grad_L = g * _triangle(L, lower=True)
    P = _phi(_mT(L) @ grad_L)
    left = triangular_solve(_mT(L), P, lower=False)  # L^{-T} P
    S = _mT(triangular_solve(_mT(L), _mT(left), lower=False))  # (L^{-T} (L^{-T} P)^T)^T
    return 0.5 * (S + _mT(S))


def _cholesky_forward(a: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError("cholesky: matrix is not positive definite") from None


_cholesky = primitive(_cholesky_forward, name="cholesky").defvjp(_cholesky_vjp)


def cholesky(a: Any) -> Tensor:
    """Lower-triangular L with A = L L^T, for symmetric positive-definite A (batched).

    Its gradient is symmetric: it treats A as a symmetric matrix, as PyTorch does.
    """
    a = as_constant(a)
    _check_square("cholesky", a)
    return _cholesky(a)
