"""Coupling layers (NICE, Dinh et al. 2015; RealNVP, Dinh et al. 2017; neural spline flows,
Durkan et al. 2019): keep part of the input, transform the rest given the part kept.

With a binary mask b (1 on the kept part x_1 = b * x),

    z = b * x + (1 - b) * tau(x; theta),        theta = NN(b * x, context)

Ordering the dimensions kept-first, the Jacobian dz/dx is block lower triangular,

    [ I              0                  ]
    [ dz_2/dx_1      diag(tau'(x_2))    ]

so its determinant is the product of the diagonal, log |det dz/dx| = sum over the transformed
dimensions of log |tau'|, whatever the network NN is: it never has to be inverted or
differentiated. The inverse reads theta from z_1 = x_1 and inverts tau elementwise, so it costs
one pass too. ``tau`` is additive (NICE), affine (RealNVP) or a rational-quadratic spline.

Masks: ``half_mask`` and ``alternate_mask`` for vectors, ``checkerboard_mask`` and
``channel_mask`` for images (C, H, W) (Dinh et al. 2017, figure 3); ``parity`` swaps the
roles of the two parts, as alternating layers must, or half the dimensions would never change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Pair, per_example
from scratchgen.bijections.transforms import Additive, Affine, RationalQuadratic
from scratchgen.nn import Module


def half_mask(features: int, parity: int = 0) -> np.ndarray:
    """Vectors: 1 on the first half of the dimensions (parity 0) or on the second (parity 1)."""
    mask = (np.arange(features) < features // 2).astype(float)
    return mask if parity == 0 else 1 - mask


def alternate_mask(features: int, parity: int = 0) -> np.ndarray:
    """Vectors: 1 on the even dimensions (parity 0) or the odd ones (NICE's partition)."""
    return ((np.arange(features) + parity) % 2 == 0).astype(float)


def checkerboard_mask(shape: tuple[int, int, int], parity: int = 0) -> np.ndarray:
    """Images (C, H, W): 1 where (row + column + parity) is even, on every channel."""
    C, H, W = shape
    rows, cols = np.indices((H, W))
    board = ((rows + cols + parity) % 2 == 0).astype(float)
    return np.broadcast_to(board, (C, H, W)).copy()


def channel_mask(shape: tuple[int, int, int], parity: int = 0) -> np.ndarray:
    """Images (C, H, W): 1 on the first half of the channels (parity 0) or the second."""
    C, H, W = shape
    mask = np.zeros((C, H, W))
    mask[: C // 2] = 1
    return mask if parity == 0 else 1 - mask


class Coupling(Bijection):
    """z = b x + (1 - b) tau(x; NN(b x, context)); see the module docstring. ``conditioner``
    maps (b x, context) to tau.params values per dimension, laid out as (n, params * D) for
    vectors or (n, params * C, H, W) for images."""

    def __init__(self, mask: np.ndarray, conditioner: Module, transform: Any) -> None:
        super().__init__()
        if not 0 < mask.sum() < mask.size:
            raise ValueError("Coupling: the mask must keep some dimensions and change others")
        self.conditioner, self.transform = conditioner, transform
        self.register_buffer("mask", np.asarray(mask, dtype=float))

    def _theta(self, kept: Tensor, context: Any) -> Tensor:
        out = self.conditioner(kept, context)
        return ad.reshape(out, (kept.shape[0], self.transform.params) + kept.shape[1:])

    def _couple(self, h: Tensor, context: Any, inverse: bool) -> Pair:
        b = self.mask.astype(h.dtype)
        theta = self._theta(h * b, context)
        moved, log_derivative = (self.transform.inverse if inverse else self.transform.forward)(
            h, theta
        )
        return h * b + moved * (1 - b), per_example(log_derivative * (1 - b))

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        return self._couple(x, context, inverse=False)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        return self._couple(z, context, inverse=True)


class AdditiveCoupling(Coupling):
    """NICE's coupling, z_2 = x_2 - m(x_1): log |det dz/dx| = 0 (Dinh et al. 2015, eq. 7)."""

    def __init__(self, mask: np.ndarray, conditioner: Module) -> None:
        super().__init__(mask, conditioner, Additive())


class AffineCoupling(Coupling):
    """RealNVP's coupling, z_2 = (x_2 - mu(x_1)) exp(-alpha(x_1)), alpha bounded by
    bound tanh(. / bound): log |det dz/dx| = -sum alpha (Dinh et al. 2017, eq. 6-7)."""

    def __init__(self, mask: np.ndarray, conditioner: Module, bound: float = 3.0) -> None:
        super().__init__(mask, conditioner, Affine(bound))


class SplineCoupling(Coupling):
    """The rational-quadratic spline coupling of Durkan et al. 2019 (section 3.2)."""

    def __init__(self, mask: np.ndarray, conditioner: Module, bins: int = 8,
                 tail_bound: float = 3.0) -> None:  # fmt: skip
        super().__init__(mask, conditioner, RationalQuadratic(bins, tail_bound))
