"""The tiles of ``kernels.attention`` in NumPy, every (batch, head) pair at once: the float64 path.

The same two passes as the compiled loop, with the same equations (Dao et al.,
"FlashAttention", 2022, Algorithm 1, forward; Dao, "FlashAttention-2", 2023, Algorithm 2,
backward; see ``kernels.attention``), but each tile's products are one batched matmul over
all B H pairs, and the softmax is NumPy's ufuncs over the whole tile:

    S = scale Q_i K_j^T (masked: -inf)    m' = max(m, rowmax S)    P = exp(S - m')
    l' = l exp(m - m') + rowsum P          acc' = acc exp(m - m') + P V_j

then O_i = acc / l, lse_i = m + log l; backward, P = exp(S - lse), D = rowsum(dO * O),

    dV_j += P^T dO_i    dS = P * (dO_i V_j^T - D_i)    dQ_i += dS K_j    dK_j += dS^T Q_i.

Why a second organisation: compiling the loop for float64 as well cost 4.5 s of the cold
compile of every kernel (issue 3 asks for under 20 s), and in float64 the loop had no edge.
Its exp was the C library's scalar one (the vectorised exp is float32), and NumPy's batched
products do as well as its per-head BLAS calls. In alternating runs, against the compiled loop
in float64, forward and backward: (32, 4, 128, 32) 18-21 and 32-40 ms against 19-22 and
34-40; (8, 4, 512, 64) causal 60-66 and 114-116 ms against 69-70 and 128-138. Memory:
O(B H T d) plus a few tiles of scores for all (batch, head) pairs.
"""

from __future__ import annotations

import numpy as np


def _scores(q, k, allowed, rows, cols, causal, masked):
    """S = Q_i K_j^T for every pair (q already scaled), -inf where a query may not see a key;
    ``rows`` and ``cols`` are the tile's slices of queries and keys."""
    S = q[:, rows] @ np.swapaxes(k[:, cols], 1, 2)
    if causal:  # keys after the query's own position
        S[:, np.arange(cols.start, cols.stop) > np.arange(rows.start, rows.stop)[:, None]] = -np.inf
    if masked:
        S[~allowed[:, :, rows, cols].reshape(S.shape)] = -np.inf
    return S


def forward(q, k, v, allowed, causal, masked, block_q, block_k):
    """(O, lse) for q (B H, Tq, d) already scaled, k (B H, Tk, d), v (B H, Tk, dv);
    ``allowed`` broadcasts to (B, H, Tq, Tk)."""
    t_q, t_k = q.shape[1], k.shape[1]
    out = np.empty(q.shape[:2] + v.shape[2:], dtype=q.dtype)
    lse = np.empty(q.shape[:2], dtype=q.dtype)
    for q0 in range(0, t_q, block_q):
        rows = slice(q0, min(q0 + block_q, t_q))
        m = np.full((q.shape[0], rows.stop - q0, 1), -np.inf, dtype=q.dtype)
        l = np.zeros_like(m)
        acc = np.zeros((q.shape[0], rows.stop - q0, v.shape[2]), dtype=q.dtype)
        keys = min(t_k, rows.stop) if causal else t_k  # causal: none after the last query
        for k0 in range(0, keys, block_k):
            cols = slice(k0, min(k0 + block_k, keys))
            S = _scores(q, k, allowed, rows, cols, causal, masked)
            m_new = np.maximum(m, S.max(axis=2, keepdims=True))
            shift = np.where(m_new == -np.inf, 0, m_new)  # nothing allowed yet: P = 0
            P, rescale = np.exp(S - shift), np.exp(m - shift)
            l = l * rescale + P.sum(axis=2, keepdims=True)
            acc = acc * rescale + P @ v[:, cols]
            m = m_new
        no_key = l == 0  # a row that saw no key: output 0, lse -inf (a NaN stays NaN)
        safe_l = np.where(no_key, 1, l)
        out[:, rows] = np.where(no_key, 0, acc / safe_l)
        lse[:, rows] = np.where(no_key, -np.inf, m + np.log(safe_l))[:, :, 0]
    return out, lse


def backward(q, k, v, out, lse, grad_out, allowed, causal, masked, block_q, block_k):
    """(dq / scale, dk, dv), from the arguments of ``forward`` and its (O, lse)."""
    t_q, t_k = q.shape[1], k.shape[1]
    grad_q, grad_k, grad_v = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    D = np.sum(grad_out * out, axis=2, keepdims=True)
    shift = np.where(lse == -np.inf, 0, lse)[:, :, None]  # rows with no key: all -inf, P = 0
    for k0 in range(0, t_k, block_k):
        for q0 in range(0, t_q, block_q):
            rows = slice(q0, min(q0 + block_q, t_q))
            if causal and rows.stop <= k0:  # these queries see none of this key tile
                continue
            k_end = min(k0 + block_k, t_k)
            cols = slice(k0, min(k_end, rows.stop) if causal else k_end)
            P = np.exp(_scores(q, k, allowed, rows, cols, causal, masked) - shift[:, rows])
            grad_o = grad_out[:, rows]
            dS = P * (grad_o @ np.swapaxes(v[:, cols], 1, 2) - D[:, rows])
            grad_v[:, cols] += np.swapaxes(P, 1, 2) @ grad_o
            grad_q[:, rows] += dS @ k[:, cols]
            grad_k[:, cols] += np.swapaxes(dS, 1, 2) @ q[:, rows]
    return grad_q, grad_k, grad_v
