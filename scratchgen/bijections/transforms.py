"""The elementwise maps that couplings and autoregressive layers apply to each dimension,
z_i = tau(x_i; theta_i), with the parameters theta_i computed by a conditioner network.

Each has ``params`` (how many numbers theta_i holds per dimension), ``forward(x, theta)`` and
``inverse(z, theta)`` returning the output and the elementwise log |derivative|, where theta has
shape (n, params, *x.shape[1:]): parameter p of every element is theta[:, p]. Conditioners start
with zero outputs in the layers that use these maps, and theta = 0 is the identity for all three
(up to the spline's floor on its bins), so a deep stack starts as the identity map.
"""

from __future__ import annotations

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.spline import rational_quadratic_spline

Pair = tuple[Tensor, Tensor]


def zero_log_derivative(x: Tensor) -> Tensor:
    return ad.Tensor(np.zeros(x.shape, dtype=x.dtype))


class Additive:
    """z = x - mu (NICE, Dinh et al. 2015, eq. 7, which writes +m: the same family). Volume
    preserving: the log-derivative is 0."""

    params = 1

    def forward(self, x: Tensor, theta: Tensor) -> Pair:
        return x - theta[:, 0], zero_log_derivative(x)

    def inverse(self, z: Tensor, theta: Tensor) -> Pair:
        return z + theta[:, 0], zero_log_derivative(z)


class Affine:
    """z = (x - mu) exp(-alpha), log |dz/dx| = -alpha (MAF, Papamakarios et al. 2017, section 3.1;
    RealNVP's coupling, Dinh et al. 2017, eq. 6, is the same map with s = -alpha).

    The raw log-scale a is bounded, alpha = bound tanh(a / bound): an unbounded exp(alpha) in a
    deep stack is the usual source of NaNs (Dinh et al. 2017 also scale a tanh; Glow bounds it
    with a sigmoid)."""

    params = 2

    def __init__(self, bound: float = 3.0) -> None:
        self.bound = float(bound)

    def _alpha(self, theta: Tensor) -> Tensor:
        return self.bound * ad.tanh(theta[:, 1] / self.bound)

    def forward(self, x: Tensor, theta: Tensor) -> Pair:
        alpha = self._alpha(theta)
        return (x - theta[:, 0]) * ad.exp(-alpha), -alpha

    def inverse(self, z: Tensor, theta: Tensor) -> Pair:
        alpha = self._alpha(theta)
        return z * ad.exp(alpha) + theta[:, 0], alpha


class RationalQuadratic:
    """The rational-quadratic spline with K bins on [-B, B] and linear tails (``spline.py``):
    theta holds K widths, K heights and K - 1 interior derivatives, unnormalised."""

    def __init__(self, bins: int = 8, tail_bound: float = 3.0) -> None:
        self.bins, self.tail_bound = int(bins), float(tail_bound)
        self.params = 3 * self.bins - 1

    def _spline(self, x: Tensor, theta: Tensor, inverse: bool) -> Pair:
        K = self.bins
        last = ad.transpose(theta, (0, *range(2, theta.ndim), 1))  # parameters on the last axis
        return rational_quadratic_spline(x, last[..., :K], last[..., K : 2 * K],
                                         last[..., 2 * K :], inverse=inverse,
                                         tail_bound=self.tail_bound)  # fmt: skip

    def forward(self, x: Tensor, theta: Tensor) -> Pair:
        return self._spline(x, theta, inverse=False)

    def inverse(self, z: Tensor, theta: Tensor) -> Pair:
        return self._spline(z, theta, inverse=True)
