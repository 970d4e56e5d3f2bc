"""Attention in tiles, with an online softmax: the T x T probability matrix is never stored.

Forward (Dao et al., "FlashAttention", 2022, Algorithm 1; Milakov & Gimelshein 2018 for the
online softmax). For a tile of queries, walk the keys tile by tile keeping, per query row, the
running maximum m, the running normaliser l and the unnormalised output acc:

    S = scale Q_i K_j^T           m' = max(m, rowmax S)         P = exp(S - m')
    l' = l exp(m - m') + rowsum P                  acc' = acc exp(m - m') + P V_j

and finish with O_i = acc / l and lse_i = m + log l. Backward (Dao, "FlashAttention-2", 2023,
Algorithm 2) walks key tiles in the outer loop, recomputes P = exp(S - lse) from the saved
log-sum-exp, and accumulates, with D = rowsum(dO * O),

    dV_j += P^T dO_i     dP = dO_i V_j^T     dS = P * (dP - D_i)
    dQ_i += scale dS K_j      dK_j += scale dS^T Q_i

How it is organised, by measurement on two cores. Each thread works through whole (batch, head)
pairs (``kernels._threads.for_each_share``), with its tiles in its own cache.
The products are BLAS calls (``kernels._gemm``, accumulating in place) made with one BLAS
thread each (``kernels._threads``); the softmax runs row by row in the same loop, its exp
in a loop the compiler vectorises (``kernels._fast_exp``). Tiles are 128 queries by 512 keys:
on T = 512 a row's keys fit in one tile, so the online softmax rescales only for longer keys
(64 x 512, 256 x 512 and 128 x 256 tiles measured the same within the noise). The previous
organisation batched each tile's products over every head in one NumPy matmul and ran the
softmax in NumPy ufuncs, on one thread; against it the forward went from 8.5-10 ms to
3.7-4.6 ms on (32, 4, 128, 32), and from 46 ms to 18-21 ms on (8, 4, 512, 64). The price is
compile time: both directions, float32 and float64, took 11.8-13.2 s to compile cold, with
the per-head loops and the score product inlined into the threads' kernels (14.3-14.5 s when
each was compiled on its own). So the loop is compiled for float32 alone, in 4.4-5.3 s cold;
float64 takes the same tiles in NumPy (``kernels._attention_numpy``), which in float64 is as
fast. Memory is O(T d) plus a few tiles per thread.

Causal attention is aligned at the top left as PyTorch's ``is_causal`` (query i sees keys
0..i); tiles entirely above the diagonal are skipped. A query with no allowed key gets output
0 and lse = -inf.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from kernels import _attention_numpy as tiles_in_numpy
from kernels._attention_args import allowed_keys, check_attention
from kernels._fast_exp import exp_shifted_sum
from kernels._gemm import gemm
from kernels._threads import for_each_share, one_blas_thread_each

__all__ = ["attention", "attention_backward", "allowed_keys"]

BLOCK_Q, BLOCK_K = 128, 512
# The loop below is compiled for float32 alone; float64 takes the same tiles in NumPy
# (kernels._attention_numpy, whose docstring says why).
COMPILED_DTYPE = np.float32


@njit(cache=True, inline="always")
def _mask_scores(S, allowed, q0, k0, causal, masked):  # pragma: no cover (JIT)
    """S[i, j] = -inf where query q0 + i may not see key k0 + j (``allowed``: one head's)."""
    for i in range(S.shape[0]):
        if causal:  # keys after the query's own position
            S[i, max(q0 + i + 1 - k0, 0) :] = -np.inf
        if masked:
            for j in range(S.shape[1]):
                if not allowed[q0 + i, k0 + j]:
                    S[i, j] = -np.inf


@njit(cache=True, inline="always")
def _scores(q_i, k_j, allowed, q0, k0, causal, masked):  # pragma: no cover (JIT)
    """S = Q_i K_j^T (q already scaled), masked entries -inf."""
    S = np.empty((q_i.shape[0], k_j.shape[0]), dtype=q_i.dtype)
    gemm(q_i.dtype.type(1), q_i, k_j, q_i.dtype.type(0), S, False, True)
    if masked or (causal and k0 + k_j.shape[0] - 1 > q0):  # a mask, or the causal diagonal
        _mask_scores(S, allowed, q0, k0, causal, masked)
    return S


@njit(cache=True, inline="always")
def _forward_head(q, k, v, allowed, causal, masked, block_q, block_k, out,
                  lse):  # fmt: skip  # pragma: no cover (JIT)
    """One (batch, head) pair: q (Tq, d) already scaled, k (Tk, d), v (Tk, dv)."""
    t_q, t_k = q.shape[0], k.shape[0]
    zero, one = out.dtype.type(0), out.dtype.type(1)  # float32 stays float32
    bits = np.empty(block_k, dtype=np.int32)
    for q0 in range(0, t_q, block_q):
        q1 = min(q0 + block_q, t_q)
        m = np.full(q1 - q0, -np.inf, dtype=out.dtype)
        l = np.zeros(q1 - q0, dtype=out.dtype)
        acc = np.zeros((q1 - q0, out.shape[1]), dtype=out.dtype)
        keys = min(t_k, q1) if causal else t_k  # causal: none after the tile's last query
        for k0 in range(0, keys, block_k):
            k1 = min(k0 + block_k, keys)
            S = _scores(q[q0:q1], k[k0:k1], allowed, q0, k0, causal, masked)
            for i in range(q1 - q0):
                m_new = m[i]  # a loop, not S[i].max(): that overload took 0.5 s to compile
                for j in range(k1 - k0):
                    if S[i, j] > m_new:
                        m_new = S[i, j]
                shift = zero if m_new == -np.inf else m_new  # nothing allowed yet: P = 0
                rescale = np.exp(m[i] - shift)
                l[i] = l[i] * rescale + exp_shifted_sum(S[i], shift, bits)
                m[i] = m_new
                for c in range(acc.shape[1]):
                    acc[i, c] *= rescale
            gemm(one, S, v[k0:k1], one, acc, False, False)  # acc += P V_j
        for i in range(q1 - q0):  # l = 0: a row that saw no key, output 0 (a NaN stays NaN)
            inverse = zero if l[i] == 0 else one / l[i]
            for c in range(acc.shape[1]):
                out[q0 + i, c] = acc[i, c] * inverse
            lse[q0 + i] = -np.inf if l[i] == 0 else m[i] + np.log(l[i])


@njit(cache=True, inline="always")
def _backward_head(q, k, v, out, lse, grad_out, allowed, causal, masked, block_q, block_k,
                   grad_q, grad_k, grad_v):  # fmt: skip  # pragma: no cover (JIT)
    """One (batch, head) pair; the gradients arrive zeroed, grad_q still to be scaled."""
    t_q, t_k = q.shape[0], k.shape[0]
    zero, one = out.dtype.type(0), out.dtype.type(1)
    bits = np.empty(block_k, dtype=np.int32)
    D = np.zeros(t_q, dtype=out.dtype)  # D_i = <dO_i, O_i>
    for i in range(t_q):
        for c in range(out.shape[1]):
            D[i] += grad_out[i, c] * out[i, c]
    for k0 in range(0, t_k, block_k):
        k1 = min(k0 + block_k, t_k)
        for q0 in range(0, t_q, block_q):
            q1 = min(q0 + block_q, t_q)
            if causal and q1 <= k0:  # these queries see none of this key tile
                continue
            # causal: none of the tile's queries sees a key after its own last position
            k_end = min(k1, q1) if causal else k1
            k_j, v_j = k[k0:k_end], v[k0:k_end]
            q_i, grad_o = q[q0:q1], grad_out[q0:q1]
            P = _scores(q_i, k_j, allowed, q0, k0, causal, masked)
            for i in range(q1 - q0):  # rows with no allowed key are all -inf: P = 0
                shift = lse[q0 + i]
                exp_shifted_sum(P[i], zero if shift == -np.inf else shift, bits)
            dS = np.empty_like(P)
            gemm(one, grad_o, v_j, zero, dS, False, True)  # dP = dO_i V_j^T, made dS in place
            for i in range(q1 - q0):
                for j in range(k_end - k0):
                    dS[i, j] = P[i, j] * (dS[i, j] - D[q0 + i])
            gemm(one, P, grad_o, one, grad_v[k0:k_end], True, False)  # dV_j += P^T dO_i
            gemm(one, dS, k_j, one, grad_q[q0:q1], False, False)  # dQ_i += dS K_j
            gemm(one, dS, q_i, one, grad_k[k0:k_end], True, False)  # dK_j += dS^T Q_i


@njit(nogil=True, cache=True)
def _forward(start, stop, q_scaled, k, v, allowed, causal, masked, block_q, block_k, out,
             lse):  # fmt: skip  # pragma: no cover (JIT)
    heads = allowed.shape[1]
    for bh in range(start, stop):
        _forward_head(q_scaled[bh], k[bh], v[bh], allowed[bh // heads, bh % heads], causal,
                      masked, block_q, block_k, out[bh], lse[bh])  # fmt: skip


@njit(nogil=True, cache=True)
def _backward(start, stop, q_scaled, k, v, out, lse, grad_out, allowed, causal, masked, block_q,
              block_k, grad_q, grad_k, grad_v):  # fmt: skip  # pragma: no cover (JIT)
    heads = allowed.shape[1]
    for bh in range(start, stop):
        _backward_head(q_scaled[bh], k[bh], v[bh], out[bh], lse[bh], grad_out[bh],
                       allowed[bh // heads, bh % heads], causal, masked, block_q, block_k,
                       grad_q[bh], grad_k[bh], grad_v[bh])  # fmt: skip


def _heads(x: np.ndarray) -> np.ndarray:
    """(B, H, T, d) -> (B H, T, d), contiguous: one head per row of the parallel loop."""
    return np.ascontiguousarray(x).reshape(-1, x.shape[2], x.shape[3])


def _prepare(q, k, v, causal, mask, scale, block):
    """The arguments both kernels share: scaled queries, heads, the mask as a 4-D view."""
    check_attention(q, k, v, mask)
    dtype = q.dtype
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    target = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    # a broadcast view (zero strides): one compiled version whether or not there is a mask
    allowed = np.broadcast_to(np.True_ if mask is None else np.asarray(mask), target)
    block_q, block_k = (BLOCK_Q, BLOCK_K) if block is None else (block, block)
    args = (_heads(q * dtype.type(scale)), _heads(k), _heads(v), allowed, bool(causal),
            mask is not None, block_q, block_k)  # fmt: skip
    return dtype.type(scale), args


def attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool = False, mask: Any = None,
    scale: float | None = None, block: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """softmax(scale Q K^T + mask) V for (batch, heads, T, d) arrays; returns (O, lse).

    ``mask`` is boolean, True where a query may attend to a key, broadcastable to
    (batch, heads, Tq, Tk); ``scale`` defaults to 1/sqrt(d); ``block``, if given, is the tile
    size for queries and keys alike (by default 128 queries by 512 keys).
    """
    _, args = _prepare(q, k, v, causal, mask, scale, block)
    if q.dtype != COMPILED_DTYPE:
        out, lse = tiles_in_numpy.forward(*args)
    else:
        out = np.empty(args[0].shape[:2] + v.shape[3:], dtype=q.dtype)
        lse = np.empty(args[0].shape[:2], dtype=q.dtype)
        with one_blas_thread_each():
            for_each_share(_forward, out.shape[0], *args, out, lse)
    return out.reshape(q.shape[:3] + v.shape[3:]), lse.reshape(q.shape[:3])


def attention_backward(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, out: np.ndarray, lse: np.ndarray,
    grad_out: np.ndarray, causal: bool = False, mask: Any = None, scale: float | None = None,
    block: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(dq, dk, dv) of attention, from its output and log-sum-exp (not its probabilities)."""
    scale, args = _prepare(q, k, v, causal, mask, scale, block)
    heads = args[0].shape[:2]  # (B H, Tq)
    saved = (_heads(out), np.ascontiguousarray(lse).reshape(heads), _heads(grad_out))
    if q.dtype != COMPILED_DTYPE:
        grad_q, grad_k, grad_v = tiles_in_numpy.backward(*args[:3], *saved, *args[3:])
    else:
        grad_q, grad_k, grad_v = (np.zeros_like(x) for x in args[:3])
        with one_blas_thread_each():
            for_each_share(_backward, heads[0], *args[:3], *saved, *args[3:], grad_q, grad_k,
                           grad_v)  # fmt: skip
    grad_q *= scale
    return grad_q.reshape(q.shape), grad_k.reshape(k.shape), grad_v.reshape(v.shape)
