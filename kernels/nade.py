"""NADE's conditionals and their exact gradient in O(n D H) time and O(D H) memory per thread
(Larochelle & Murray 2011, section 3 and their Algorithm 1). The definitions are in
``kernels.nade_reference``; shapes x (n, D), W (H, D), c (H,), V (D, H), b (D,).

The running sum a_{i+1} = a_i + W[:, i] x_i gives every conditional's pre-activation in O(H)
work, so one example costs O(D H). Written as engine operations (an exclusive cumulative sum
over an (n, D, H) array, then a sigmoid, a product and a sum) each step is a pass over
n D H numbers: on binarized MNIST with H = 500 and batches of 100, 157 MB per array and 1.95 s
per training step. Here each example walks the sum forward (keeping its D x H pre-activations
in a per-thread buffer) and back, accumulating

    delta_i = G_i V_i h_i (1 - h_i),   dW[:, j] += x_j sum_{i>j} delta_i,   dc += delta_i,

so nothing of size n D H is ever stored. The batch is split into one block of examples per
thread (``kernels._threads.for_each_share``), each with its own gradient accumulators, summed
at the end: no two threads write the same number.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels._threads import for_each_share, share_count


@njit(cache=True)
def _sigmoid(a, one):  # pragma: no cover (JIT)
    return one / (one + np.exp(-a))  # ``one`` of the arrays' dtype: float32 stays float32


# The two loop bodies are inlined into the threads' kernels below: compiled on their own, each
# was also optimised again inside its caller (with attention's, 1.3 s of the cold compile).
@njit(cache=True, inline="always")
def _forward_example(x, Wt, c, V, b, logits):  # pragma: no cover (JIT)
    """One example: x and logits are its rows."""
    H, one = c.shape[0], c.dtype.type(1)
    a = c.copy()
    for i in range(x.shape[0]):
        total = b[i]
        for k in range(H):
            total += V[i, k] * _sigmoid(a[k], one)
        logits[i] = total
        if x[i] != 0:
            for k in range(H):
                a[k] += Wt[i, k] * x[i]


@njit(cache=True, inline="always")
def _backward_block(x, Wt, c, V, G, dx, dWt, dc, dV, db):  # pragma: no cover (JIT)
    """One block of examples (the rows of x, G and dx), accumulating into its own dWt, dc, dV
    and db."""
    n, D = x.shape
    H, one = c.shape[0], c.dtype.type(1)
    A = np.empty((D, H), dtype=c.dtype)  # this example's pre-activations a_0 .. a_(D-1)
    later = np.empty(H, dtype=c.dtype)  # sum_{i > j} delta_i
    for s in range(n):
        # A[i] = A[i - 1] + W[:, i - 1] x_(i-1), written out element by element: a row
        # assignment (A[i] = a) here took 2.3 s of the kernel's 2.5 s to compile
        for k in range(H):
            A[0, k] = c[k]
        for i in range(1, D):
            step = x[s, i - 1]
            for k in range(H):
                A[i, k] = A[i - 1, k]
            if step != 0:  # as in the forward: a zero input adds nothing
                for k in range(H):
                    A[i, k] += Wt[i - 1, k] * step
        for k in range(H):
            later[k] = 0
        for i in range(D - 1, -1, -1):
            g = G[s, i]
            db[i] += g
            grad_x = c.dtype.type(0)
            for k in range(H):
                grad_x += Wt[i, k] * later[k]
                dWt[i, k] += x[s, i] * later[k]
            dx[s, i] = grad_x
            for k in range(H):
                h = _sigmoid(A[i, k], one)
                dV[i, k] += g * h
                later[k] += g * V[i, k] * h * (one - h)
        for k in range(H):
            dc[k] += later[k]  # sum over every i of delta_i


@njit(nogil=True, cache=True)
def _forward(start, stop, x, Wt, c, V, b, logits):  # pragma: no cover (JIT)
    for s in range(start, stop):
        _forward_example(x[s], Wt, c, V, b, logits[s])


@njit(nogil=True, cache=True)
def _backward(start, stop, x, Wt, c, V, G, blocks, dx, dWt, dc, dV, db):  # pragma: no cover
    """Blocks start..stop of examples: dWt[t], dc[t], dV[t], db[t] accumulate block t's share."""
    for t in range(start, stop):
        rows = slice(blocks[t], blocks[t + 1])
        _backward_block(x[rows], Wt, c, V, G[rows], dx[rows], dWt[t], dc[t], dV[t], db[t])


def _check(x: np.ndarray, W: np.ndarray, c: np.ndarray, V: np.ndarray, b: np.ndarray) -> None:
    arrays = (x, W, c, V, b)
    if len({a.dtype for a in arrays}) != 1 or x.dtype not in (np.float32, np.float64):
        raise TypeError(
            "nade_logits: x, W, c, V and b must share one float dtype (float32 or float64), got "
            + ", ".join(str(a.dtype) for a in arrays)
        )
    D = x.shape[1] if x.ndim == 2 else None
    H = c.shape[0] if c.ndim == 1 else None
    if D is None or W.shape != (H, D) or V.shape != (D, H) or b.shape != (D,):
        raise ValueError(
            f"nade_logits: expected x (n, D), W (H, D), c (H,), V (D, H), b (D,), got x "
            f"{x.shape}, W {W.shape}, c {c.shape}, V {V.shape}, b {b.shape}"
        )


def nade_logits(x: np.ndarray, W: np.ndarray, c: np.ndarray, V: np.ndarray,
                b: np.ndarray) -> np.ndarray:  # fmt: skip
    """(n, D) logits of p(x_i = 1 | x_<i) for every example and dimension."""
    _check(x, W, c, V, b)
    logits = np.empty(x.shape, dtype=x.dtype)
    for_each_share(_forward, x.shape[0], np.ascontiguousarray(x), np.ascontiguousarray(W.T), c,
                   np.ascontiguousarray(V), b, logits)  # fmt: skip
    return logits


def nade_logits_grad(x: np.ndarray, W: np.ndarray, c: np.ndarray, V: np.ndarray,
                     b: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, ...]:  # fmt: skip
    """(dx, dW, dc, dV, db): the gradient of sum(G * nade_logits(x, W, c, V, b))."""
    _check(x, W, c, V, b)
    if G.shape != x.shape or G.dtype != x.dtype:
        raise ValueError(f"nade_logits_grad: G is {G.shape} {G.dtype}, x {x.shape} {x.dtype}")
    n, D = x.shape
    H, dtype = c.shape[0], x.dtype
    threads = share_count(n)
    blocks = np.linspace(0, n, threads + 1).astype(np.int64)
    dx = np.empty((n, D), dtype)
    dWt, dV = np.zeros((threads, D, H), dtype), np.zeros((threads, D, H), dtype)
    dc, db = np.zeros((threads, H), dtype), np.zeros((threads, D), dtype)
    for_each_share(_backward, threads, np.ascontiguousarray(x), np.ascontiguousarray(W.T), c,
                   np.ascontiguousarray(V), np.ascontiguousarray(G), blocks, dx, dWt, dc, dV,
                   db)  # fmt: skip
    return dx, dWt.sum(axis=0).T.copy(), dc.sum(axis=0), dV.sum(axis=0), db.sum(axis=0)
