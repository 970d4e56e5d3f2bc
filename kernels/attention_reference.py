"""Attention as its definition, with the whole probability matrix in memory.

    S = scale Q K^T  (masked entries -inf),   P = softmax(S) over keys,   O = P V
    lse_i = log sum_j exp(S_ij)

and its gradients (for dO = dL/dO, with D_i = sum_j P_ij dP_ij = <dO_i, O_i>):

    dV = P^T dO,   dP = dO V^T,   dS = P * (dP - D),   dQ = scale dS K,   dK = scale dS^T Q

A query row with no allowed key gives O = 0 and lse = -inf (its gradients are zero).
"""

from __future__ import annotations

import numpy as np

from kernels._attention_args import allowed_keys


def attention_reference(q, k, v, causal=False, mask=None, scale=None):
    """(O, lse) for q (B, H, Tq, d), k (B, H, Tk, d), v (B, H, Tk, dv)."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    allowed = allowed_keys(q.shape, k.shape, causal, mask)
    S = np.where(allowed, scale * (q @ np.swapaxes(k, -1, -2)), -np.inf)
    m = S.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    unnormalised = np.exp(S - m)
    total = unnormalised.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        P = np.where(total == 0, 0, unnormalised / total)  # a NaN stays NaN
        lse = np.log(total[..., 0]) + m[..., 0]
    return (P @ v).astype(q.dtype), lse.astype(q.dtype)


def attention_backward_reference(q, k, v, out, lse, grad_out, causal=False, mask=None, scale=None):
    """(dq, dk, dv) from the forward's output and log-sum-exp."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    allowed = allowed_keys(q.shape, k.shape, causal, mask)
    S = scale * (q @ np.swapaxes(k, -1, -2))
    no_key = lse == -np.inf
    P = np.where(allowed & ~no_key[..., None], np.exp(S - np.where(no_key, 0, lse)[..., None]), 0)
    dv = np.swapaxes(P, -1, -2) @ grad_out
    dP = grad_out @ np.swapaxes(v, -1, -2)
    D = np.sum(grad_out * out, axis=-1, keepdims=True)
    dS = P * (dP - D)
    return scale * (dS @ k), scale * (np.swapaxes(dS, -1, -2) @ q), dv
