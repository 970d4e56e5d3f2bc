"""Linear measurements y = A x of examples x (n, ...), for inverse problems: inpainting,
colourisation, super-resolution, and any matrix.

A solver that replaces the observed part of its chains (``scratchgen.inverse.replacement``)
needs to know which part of x the measurement fixes. Each operator here gives it an
orthonormal basis V in which A reads r coordinates and ignores the rest: with A = U S V^T its
singular value decomposition, the coordinates c = V^T x split into r observed ones, fixed by y
through c_obs = S^-1 U^T y, and D - r free ones. Because V is orthonormal, isotropic noise
stays isotropic in those coordinates, which is what lets a solver noise the observed part to
the forward marginal of any step: the "decoupled" basis of Song et al. (2021, "Score-Based
Generative Modeling through SDEs", appendix I.3), which they use for colourisation.

- ``Inpaint(mask)``: y = mask * x, with V the identity and the mask's pixels observed;
- ``Colorize(weights)``: a grey image y = sum_c w_c x_c (luminance, by Rec. 601's weights), with
  V per pixel a rotation of the colour channels whose first axis is w / |w|;
- ``SuperResolve(factor)``: y the mean of each factor x factor block (average pooling), with V per
  block a rotation whose first axis is the constant block, 1 / factor in every entry;
- ``Linear(matrix)``: y = A x on flat examples, with V from ``numpy.linalg.svd``.

Every operator has ``apply(x)``, ``adjoint(r, shape)`` (A^T r, for solvers that follow the
gradient of ||A x - y||), ``to_basis(x)`` and ``from_basis(c, shape)`` (c flat, (n, D)),
``observed(shape)`` (a bool mask of the D coordinates) and ``observed_values(y, shape)`` (n, r),
and ``residual(x, y)``, the consistency error ||A x - y|| per example.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray
REC601 = (0.299, 0.587, 0.114)  # the luminance of ITU-R BT.601, as PIL's convert("L") uses


def rotation_with_first_axis(u: Array) -> Array:
    """An orthonormal matrix Q (d, d) whose first row is u / |u|: the QR factorisation of
    [u, e_1, ..., e_{d-1}], its first column's sign set to u's."""
    u = np.asarray(u, np.float64)
    q, _ = np.linalg.qr(np.column_stack([u, np.eye(len(u))[:, : len(u) - 1]]))
    if q[:, 0] @ u < 0:
        q = -q
    return q.T


class LinearOperator:
    """What every measurement shares; subclasses give ``apply``, the basis and the mask."""

    name = "operator"

    def apply(self, x: Array) -> Array:
        raise NotImplementedError

    def adjoint(self, r: Array, shape: tuple[int, ...]) -> Array:
        """A^T r for measurements r of examples of ``shape``: <A x, r> = <x, A^T r>."""
        raise NotImplementedError

    def to_basis(self, x: Array) -> Array:
        raise NotImplementedError

    def from_basis(self, c: Array, shape: tuple[int, ...]) -> Array:
        raise NotImplementedError

    def observed(self, shape: tuple[int, ...]) -> Array:
        raise NotImplementedError

    def observed_values(self, y: Array, shape: tuple[int, ...]) -> Array:
        raise NotImplementedError

    def residual(self, x: Array, y: Array) -> Array:
        """||A x - y||_2 per example, (n,)."""
        difference = self.apply(x) - np.asarray(y, np.float64)
        return np.sqrt(np.sum(difference.reshape(len(difference), -1) ** 2, axis=1))

    def check(self, y: Array, shape: tuple[int, ...]) -> Array:
        """y as float64 if it is what ``apply`` makes of examples of ``shape``; else one line."""
        y = np.asarray(y, np.float64)
        expected = self.apply(np.zeros(shape)).shape
        if y.shape != expected:
            raise ValueError(f"{self.name}: y must be {expected} for x of shape {tuple(shape)}, "
                             f"got {y.shape}")  # fmt: skip
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: y must be finite")
        return y

    def _examples(self, x: Any, ndim: int) -> Array:
        x = np.asarray(x, np.float64)
        if x.ndim != ndim:
            raise ValueError(f"{self.name}: examples must have {ndim} axes (n first), got "
                             f"shape {x.shape}")  # fmt: skip
        return x


class Inpaint(LinearOperator):
    """y = mask * x: the pixels where ``mask`` is true are seen, the others are zero in y.
    ``mask`` has an example's shape (channels may be left to broadcast, (1, H, W))."""

    name = "Inpaint"

    def __init__(self, mask: Any) -> None:
        self.mask = np.asarray(mask)
        if self.mask.dtype != bool and not np.isin(self.mask, (0, 1)).all():
            raise ValueError("Inpaint: the mask must be boolean (or 0 and 1), true where x is seen")
        self.mask = self.mask.astype(bool)

    def _full_mask(self, shape: tuple[int, ...]) -> Array:
        try:
            return np.broadcast_to(self.mask, tuple(shape)[1:])
        except ValueError:
            raise ValueError(f"Inpaint: a mask of shape {self.mask.shape} does not fit examples "
                             f"of shape {tuple(shape)[1:]}") from None  # fmt: skip

    def apply(self, x: Array) -> Array:
        x = np.asarray(x, np.float64)
        return np.where(self._full_mask(x.shape), x, 0.0)

    def adjoint(self, r: Array, shape: tuple[int, ...]) -> Array:
        return self.apply(np.asarray(r, np.float64).reshape(shape))  # a projection: A^T = A

    def to_basis(self, x: Array) -> Array:
        x = np.asarray(x, np.float64)
        return x.reshape(len(x), -1)

    def from_basis(self, c: Array, shape: tuple[int, ...]) -> Array:
        return np.asarray(c, np.float64).reshape(shape)

    def observed(self, shape: tuple[int, ...]) -> Array:
        return self._full_mask(shape).reshape(-1)

    def observed_values(self, y: Array, shape: tuple[int, ...]) -> Array:
        return self.to_basis(y)[:, self.observed(shape)]


class Colorize(LinearOperator):
    """y = sum_c w_c x_c, a grey image (n, 1, H, W) of colour images (n, 3, H, W)."""

    name = "Colorize"

    def __init__(self, weights: Any = REC601) -> None:
        self.weights = np.asarray(weights, np.float64)
        if self.weights.shape != (3,) or np.linalg.norm(self.weights) == 0:
            raise ValueError(f"Colorize: weights must be three numbers, not all zero, got "
                             f"{self.weights}")  # fmt: skip
        self.rotation = rotation_with_first_axis(self.weights)

    def _images(self, x: Any) -> Array:
        x = self._examples(x, 4)
        if x.shape[1] != 3:
            raise ValueError(f"Colorize: needs colour images (n, 3, H, W), got {x.shape}")
        return x

    def apply(self, x: Array) -> Array:
        return np.einsum("c,nchw->nhw", self.weights, self._images(x))[:, None]

    def adjoint(self, r: Array, shape: tuple[int, ...]) -> Array:
        grey = np.asarray(r, np.float64).reshape(shape[0], 1, *shape[2:])
        return self.weights[None, :, None, None] * grey

    def to_basis(self, x: Array) -> Array:
        x = self._images(x)
        return np.einsum("kc,nchw->nkhw", self.rotation, x).reshape(len(x), -1)

    def from_basis(self, c: Array, shape: tuple[int, ...]) -> Array:
        c = np.asarray(c, np.float64).reshape(shape)
        return np.einsum("kc,nkhw->nchw", self.rotation, c)

    def observed(self, shape: tuple[int, ...]) -> Array:
        mask = np.zeros(tuple(shape)[1:], bool)
        mask[0] = True
        return mask.reshape(-1)

    def observed_values(self, y: Array, shape: tuple[int, ...]) -> Array:
        y = np.asarray(y, np.float64)
        return y.reshape(len(y), -1) / np.linalg.norm(self.weights)


class SuperResolve(LinearOperator):
    """y = the mean of each factor x factor block of x (n, C, H, W): (n, C, H / f, W / f)."""

    name = "SuperResolve"

    def __init__(self, factor: int) -> None:
        if int(factor) != factor or factor < 1:
            raise ValueError(f"SuperResolve: factor must be a positive integer, got {factor}")
        self.factor = int(factor)
        self.rotation = rotation_with_first_axis(np.ones(self.factor**2))

    def _blocks(self, x: Any) -> Array:
        """(n, C, H / f, W / f, f * f): each block's pixels, row by row."""
        x, f = self._examples(x, 4), self.factor
        n, C, H, W = x.shape
        if H % f or W % f:
            raise ValueError(f"SuperResolve: the factor {f} must divide the height and width, "
                             f"got {H} x {W}")  # fmt: skip
        blocks = x.reshape(n, C, H // f, f, W // f, f).transpose(0, 1, 2, 4, 3, 5)
        return blocks.reshape(n, C, H // f, W // f, f * f)

    def apply(self, x: Array) -> Array:
        return self._blocks(x).mean(axis=-1)

    def adjoint(self, r: Array, shape: tuple[int, ...]) -> Array:
        f = self.factor
        low = np.asarray(r, np.float64).reshape(shape[0], shape[1], shape[2] // f, shape[3] // f)
        return np.repeat(np.repeat(low, f, axis=2), f, axis=3) / f**2

    def to_basis(self, x: Array) -> Array:
        c = self._blocks(x) @ self.rotation.T
        return c.reshape(len(c), -1)

    def from_basis(self, c: Array, shape: tuple[int, ...]) -> Array:
        n, C, H, W = shape
        f = self.factor
        blocks = np.asarray(c, np.float64).reshape(n, C, H // f, W // f, f * f) @ self.rotation
        return blocks.reshape(n, C, H // f, W // f, f, f).transpose(0, 1, 2, 4, 3, 5) \
            .reshape(shape)  # fmt: skip

    def observed(self, shape: tuple[int, ...]) -> Array:
        _, C, H, W = shape
        mask = np.zeros((C, H // self.factor, W // self.factor, self.factor**2), bool)
        mask[..., 0] = True
        return mask.reshape(-1)

    def observed_values(self, y: Array, shape: tuple[int, ...]) -> Array:
        y = np.asarray(y, np.float64)
        return self.factor * y.reshape(len(y), -1)  # the first axis is the block's sum / f


class Linear(LinearOperator):
    """y = A x for flat examples x (n, D) and a matrix A (M, D); its singular values below
    ``tol`` times the largest count as zero (those directions are not observed)."""

    name = "Linear"

    def __init__(self, matrix: Any, tol: float = 1e-10) -> None:
        self.matrix = np.asarray(matrix, np.float64)
        if self.matrix.ndim != 2 or not np.all(np.isfinite(self.matrix)):
            raise ValueError(f"Linear: needs a finite matrix (M, D), got shape {self.matrix.shape}")
        u, s, vt = np.linalg.svd(self.matrix, full_matrices=True)
        self.rank = int(np.sum(s > tol * s.max())) if s.size and s.max() > 0 else 0
        self.u, self.s, self.vt = u[:, : self.rank], s[: self.rank], vt

    def _flat(self, x: Any) -> Array:
        x = self._examples(x, 2)
        if x.shape[1] != self.matrix.shape[1]:
            raise ValueError(f"Linear: examples must have {self.matrix.shape[1]} coordinates, got "
                             f"{x.shape[1]}")  # fmt: skip
        return x

    def apply(self, x: Array) -> Array:
        return self._flat(x) @ self.matrix.T

    def adjoint(self, r: Array, shape: tuple[int, ...]) -> Array:
        return (np.asarray(r, np.float64).reshape(shape[0], -1) @ self.matrix).reshape(shape)

    def to_basis(self, x: Array) -> Array:
        return self._flat(x) @ self.vt.T

    def from_basis(self, c: Array, shape: tuple[int, ...]) -> Array:
        return np.asarray(c, np.float64) @ self.vt

    def observed(self, shape: tuple[int, ...]) -> Array:
        return np.arange(self.matrix.shape[1]) < self.rank

    def observed_values(self, y: Array, shape: tuple[int, ...]) -> Array:
        return (np.asarray(y, np.float64) @ self.u) / self.s
