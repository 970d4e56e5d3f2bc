"""Layer and group normalisation in plain NumPy: the definition ``kernels.normalization`` is
held to. Layout: x (N, G, K, P), statistics over (K, P) for each (n, g); weight and bias
(G, K, Pw) with Pw = 1 (one per channel: group norm, K channels of P positions per group) or
Pw = P (one per position: layer norm, G = K = 1).

    x_hat = (x - mean) rstd,   rstd = 1 / sqrt(var + eps),   y = x_hat weight + bias
    dx_hat = g weight,   dx = rstd (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)),
    dweight = sum_n sum_{p: Pw = 1} g x_hat,   dbias = the same sums of g
"""

from __future__ import annotations

import numpy as np


def _x_hat(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    centred = x - x.mean(axis=(2, 3), keepdims=True)
    rstd = 1 / np.sqrt((centred * centred).mean(axis=(2, 3), keepdims=True) + eps)
    return centred * rstd, rstd


def normalise_reference(x, weight, bias, eps):
    return _x_hat(x, eps)[0] * weight + bias


def normalise_grad_reference(x, weight, bias, g, eps):
    """(dx, dweight, dbias) for the upstream gradient g of y."""
    x_hat, rstd = _x_hat(x, eps)
    dx_hat = g * weight
    mean_g = dx_hat.mean(axis=(2, 3), keepdims=True)
    mean_gx = (dx_hat * x_hat).mean(axis=(2, 3), keepdims=True)
    dx = rstd * (dx_hat - mean_g - x_hat * mean_gx)
    positions = () if weight.shape[2] > 1 else (3,)
    dw = (g * x_hat).sum(axis=(0, *positions), keepdims=True)[0]
    return dx, dw, g.sum(axis=(0, *positions), keepdims=True)[0]
