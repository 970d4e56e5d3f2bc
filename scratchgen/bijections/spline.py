"""The monotone rational-quadratic spline of neural spline flows (Durkan, Bekasov, Murray &
Papamakarios, "Neural Spline Flows", 2019), with linear tails outside [-B, B].

Inside [-B, B] the spline passes through K + 1 knots (x^k, y^k), increasing in both
coordinates, with positive derivatives d^k at the knots. On bin k, with

    xi = (x - x^k) / w^k,   w^k = x^{k+1} - x^k,   h^k = y^{k+1} - y^k,   s^k = h^k / w^k,

it is the ratio of two quadratics (their eq. 4)

    y = y^k + h^k [s^k xi^2 + d^k xi (1 - xi)] / [s^k + (d^{k+1} + d^k - 2 s^k) xi (1 - xi)]

whose derivative (eq. 5) is positive everywhere, so the map is strictly increasing:

    dy/dx = (s^k)^2 [d^{k+1} xi^2 + 2 s^k xi (1 - xi) + d^k (1 - xi)^2]
            / [s^k + (d^{k+1} + d^k - 2 s^k) xi (1 - xi)]^2

The inverse solves a quadratic in xi (eq. 6-8, taking the root that lies in [0, 1] in its
numerically stable form xi = 2c / (-b - sqrt(b^2 - 4ac))). Outside [-B, B] the map is the
identity, and the boundary derivatives d^0 = d^K = 1 make it continuously differentiable there.

Parametrisation (as in the paper's reference code): widths and heights are unnormalised
(..., K), turned into bins by a softmax with a floor (min_bin_width, min_bin_height); the
K - 1 interior derivatives are min_derivative + softplus(raw).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor


def _knots(raw: Tensor, tail_bound: float, min_size: float) -> Tensor:
    """K + 1 increasing knot positions from -B to B from K unnormalised bin sizes."""
    K = raw.shape[-1]
    if min_size * K > 1:
        raise ValueError(f"rational_quadratic_spline: a floor of {min_size} per bin is too large "
                         f"for {K} bins (it must be at most 1 / K)")  # fmt: skip
    sizes = min_size + (1 - min_size * K) * ad.softmax(raw, axis=-1)
    cumulative = ad.pad(ad.cumsum(sizes, axis=-1), [(0, 0)] * (raw.ndim - 1) + [(1, 0)])
    return 2 * tail_bound * cumulative - tail_bound


def _in_bin(knots: Tensor, index: np.ndarray) -> tuple[Tensor, Tensor]:
    """(left knot, bin size) of bin ``index`` for each element."""
    left = ad.take_along_axis(knots, index[..., None], axis=-1)[..., 0]
    right = ad.take_along_axis(knots, index[..., None] + 1, axis=-1)[..., 0]
    return left, right - left


def _bin_index(knots: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The bin k with knots[k] <= value < knots[k + 1] (clipped to 0..K-1)."""
    inner = knots[..., 1:-1]  # the K - 1 interior knots
    return np.sum(values[..., None] >= inner, axis=-1)


def rational_quadratic_spline(x: Any, widths: Any, heights: Any, derivatives: Any,
                              inverse: bool = False, tail_bound: float = 3.0,
                              min_bin_width: float = 1e-3, min_bin_height: float = 1e-3,
                              min_derivative: float = 1e-3) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The spline y = g(x) elementwise, or its inverse x = g^{-1}(y) with ``inverse=True``;
    returns (output, log |d output / d input|), both of x's shape.

    ``x`` (...,); ``widths`` and ``heights`` (..., K) unnormalised; ``derivatives`` (..., K - 1)
    unnormalised, for the interior knots. Inputs outside [-tail_bound, tail_bound] pass
    through unchanged with a log-derivative of 0 (the linear tails)."""
    x, widths, heights, derivatives = (ad.as_constant(t) for t in (x, widths, heights, derivatives))
    K = widths.shape[-1]
    if heights.shape[-1] != K or derivatives.shape[-1] != K - 1:
        raise ValueError(f"rational_quadratic_spline: widths and heights need K entries and "
                         f"derivatives K - 1 on the last axis; got {widths.shape[-1]}, "
                         f"{heights.shape[-1]} and {derivatives.shape[-1]}")  # fmt: skip
    B = float(tail_bound)
    inside = (x.data >= -B) & (x.data <= B)
    clamped = ad.clip(x, -B, B)  # the unused branch stays finite, so its zero gradient is 0
    xs, ys = _knots(widths, B, min_bin_width), _knots(heights, B, min_bin_height)
    ones = ad.Tensor(np.ones(derivatives.shape[:-1] + (1,), dtype=derivatives.dtype))
    d = ad.concatenate([ones, min_derivative + ad.softplus(derivatives), ones], axis=-1)

    k = _bin_index((ys if inverse else xs).data, clamped.data)
    x_k, w_k = _in_bin(xs, k)
    y_k, h_k = _in_bin(ys, k)
    d_k = ad.take_along_axis(d, k[..., None], axis=-1)[..., 0]
    d_k1 = ad.take_along_axis(d, k[..., None] + 1, axis=-1)[..., 0]
    s_k = h_k / w_k
    curvature = d_k1 + d_k - 2 * s_k

    if inverse:
        dy = clamped - y_k
        a = h_k * (s_k - d_k) + dy * curvature
        b = h_k * d_k - dy * curvature
        c = -s_k * dy
        discriminant = ad.maximum(b * b - 4 * a * c, 0.0)  # >= 0 in exact arithmetic
        xi = 2 * c / (-b - ad.sqrt(discriminant))
        out = xi * w_k + x_k
    else:
        xi = (clamped - x_k) / w_k
        out = y_k + h_k * (s_k * xi**2 + d_k * xi * (1 - xi)) / (s_k + curvature * xi * (1 - xi))
    one_minus = 1 - xi
    denominator = s_k + curvature * xi * one_minus
    numerator = s_k**2 * (d_k1 * xi**2 + 2 * s_k * xi * one_minus + d_k * one_minus**2)
    log_derivative = ad.log(numerator) - 2 * ad.log(denominator)  # log dy/dx at this point
    logabsdet = -log_derivative if inverse else log_derivative
    zero = np.zeros((), dtype=x.dtype)
    return ad.where(inside, out, x), ad.where(inside, logabsdet, zero)
