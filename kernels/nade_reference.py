"""NADE's conditionals and their gradients in plain NumPy: the definition the fast kernel is
held to (``kernels.nade``). Shapes: x (n, D), W (H, D), c (H,), V (D, H), b (D,).

    a_i = c + sum_{j<i} W[:, j] x_j,   h_i = sigmoid(a_i),   logit_i = b_i + V_i . h_i

With G = d loss / d logits and delta_i = G_i V_i h_i (1 - h_i), the gradient of a_i:

    db_i = sum_n G_i,            dV_i = sum_n G_i h_i,          dc = sum_n sum_i delta_i,
    dW[:, j] = sum_n x_j sum_{i>j} delta_i,          dx_j = W[:, j] . sum_{i>j} delta_i
"""

from __future__ import annotations

import numpy as np


def _hidden(x: np.ndarray, W: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(n, D, H) sigmoid(a_i) for every i: an exclusive cumulative sum of x_j W[:, j]."""
    contributions = x[:, :, None] * W.T[None]
    a = c + np.cumsum(contributions, axis=1) - contributions
    return 1 / (1 + np.exp(-a))


def nade_logits_reference(x, W, c, V, b):
    return np.einsum("ndh,dh->nd", _hidden(x, W, c), V) + b


def nade_logits_grad_reference(x, W, c, V, b, G):
    """(dx, dW, dc, dV, db) for the upstream gradient G of the logits."""
    h = _hidden(x, W, c)
    delta = G[:, :, None] * V[None] * h * (1 - h)  # (n, D, H)
    later = np.cumsum(delta[:, ::-1], axis=1)[:, ::-1] - delta  # sum over i > j
    dW = np.einsum("nj,njh->hj", x, later)
    dx = np.einsum("njh,hj->nj", later, W)
    return dx, dW, delta.sum(axis=(0, 1)), np.einsum("nd,ndh->dh", G, h), G.sum(axis=0)
