"""Direct convolution by outer products: 4 output pixels by 32 output channels of sums in
vector registers for the forward of convolutions with many output channels, and 32 inputs by
4 output channels for every weight gradient of runs of 32 numbers or more.

The sums are those of ``kernels._direct`` and its buffer of kernel rows is the same: for output
row (n, p), pixel q reads the run R_q = rows[q s_w :][: k_w k_h C] of inputs, in (j, i, c)
order. What changes is which way the vectors point. ``_direct`` runs along R_q and must add up
the lanes of sixteen vectors after every run; here each vector holds 16 output channels,

    out[n, o : o + 16, p, q] = sum_e R_q[e] W^T[e, o : o + 16],    W^T[(j, i, c), o] = W[o, c, i, j]

so each input number R_q[e] is broadcast to all lanes and multiplied into the weights of 16
channels: one FMA per lane and nothing to add up at the end. A tile is 4 pixels by 32 channels,
eight vectors of sums; each step of e loads two vectors of weights and four numbers of input
for sixteen FMAs of eight lanes (LLVM splits each 16-lane vector into two of 8 on these
machines), which keeps the FMA units busy and the loads under their limit. On Glow's
conditioners, (64, 32, 14, 14) -> 32 with a 3x3 kernel, the forward took 2.3-2.6 ms against
3.4 ms for ``_direct``'s loop (one core; PyTorch's oneDNN 2.6 ms).

The weight gradient is an outer product summed over the pixels of each output row, and its
vectors point along the runs, which are contiguous in the buffer:

    dW[o, e : e + 32] += sum_q G[n, o, p, q] R_q[e : e + 32]        (e in (j, i, c) order)

a tile of 32 inputs by 4 channels in registers while q runs along the row, each pixel's
four gradients broadcast from the row copied channels-last (G^T[q, o]). It serves any number
of output channels (in tiles of 4), so it took over from ``_direct``'s weight gradient, whose
sixteen sums a run had to be stored for every 4 pixels: one core, batch 64, 3x3 kernels,
alternating: 32 -> 8 channels at 14 x 14 1.02 against 1.43 ms, 32 -> 16 at 7 x 7 0.39
against 0.55, 32 -> 32 at 14 x 14 2.83 against 4.01, 64 -> 128 at 16 x 16 22.0 against 27.3
(a first version with 4 inputs by 32 channels took 2.69, 24.2). A run that is not a whole
number of tiles reads past its end into the buffer's spare zeros
(``_direct.row_buffers``) and the next pixel's numbers: rows of dW that are dropped before
the threads' shares are summed (an infinity read there would make them NaN).

The vectors come from ``kernels._simd``: values, not arrays, so LLVM keeps them in registers.
Spare channels of the last tile (when the output channels are not a multiple of 32) are zero
weights, computed and never stored; spare pixels of the last block read the buffer's zero
columns. The weight gradient's loop over pixels stops at the row's end, so no spare pixel
adds into it (theirs may hold image numbers that no output reads, at a stride, and 0 x inf is
NaN), and its spare channels' gradients are zeros.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels._direct import (
    BLOCK,
    SLACK,
    buffer_columns,
    fill_rows,
    padded_frame,
    pixel_runs,
    row_buffers,
)
from kernels._shapes import ConvGeometry
from kernels._simd import LANES, fma, load, splat, store, zeros
from kernels._threads import for_each_share, share_count

CHANNELS = 2 * LANES  # output channels per tile
RUN_TILE, GRAD_CHANNELS = 2 * LANES, 4  # the weight gradient's tile: inputs by channels
# a run's last tile reads up to RUN_TILE - 1 numbers past it, into the row buffers' slack
if SLACK < RUN_TILE - 1:
    raise ImportError("kernels._direct.SLACK is too small for the tiles' weight gradient")


@njit(nogil=True, cache=True)
def _output_rows(start, stop, x, frame, w_cols, columns, step_t, sh, dh, kh,
                 out):  # fmt: skip  # pragma: no cover (JIT)
    """Output rows u = n Ho + p, u in start..stop, of out (N, O, Ho, Wo). w_cols: W^T per
    group, (G, run, og_pad), og_pad a multiple of CHANNELS; the rest as in
    ``_direct._output_rows``."""
    _, c_out, ho, wo = out.shape
    groups, run, og_pad = w_cols.shape
    og, current = c_out // groups, -1
    padded, rows, flat, pixel = row_buffers(x, frame, columns, kh, step_t, groups)
    tile = np.empty(BLOCK * CHANNELS, dtype=np.float32)  # tile[k CHANNELS + m]: pixel k, channel m
    for u in range(start, stop):
        n, p = u // ho, u % ho
        current = fill_rows(x, n, p * sh, dh, frame, padded, current, columns, rows)
        for g in range(groups):
            buffer, weights = flat[g], w_cols[g].reshape(-1)
            for q in range(0, wo, BLOCK):
                x0, x1, x2, x3 = pixel_runs(buffer, q, pixel, run)
                for o in range(0, og, CHANNELS):
                    s00, s01, s10, s11 = zeros(), zeros(), zeros(), zeros()
                    s20, s21, s30, s31 = zeros(), zeros(), zeros(), zeros()
                    for e in range(run):
                        at = e * og_pad + o
                        w0, w1 = load(weights, at), load(weights, at + LANES)
                        a = splat(x0[e])
                        s00, s01 = fma(a, w0, s00), fma(a, w1, s01)
                        a = splat(x1[e])
                        s10, s11 = fma(a, w0, s10), fma(a, w1, s11)
                        a = splat(x2[e])
                        s20, s21 = fma(a, w0, s20), fma(a, w1, s21)
                        a = splat(x3[e])
                        s30, s31 = fma(a, w0, s30), fma(a, w1, s31)
                    store(tile, 0, s00)
                    store(tile, LANES, s01)
                    store(tile, CHANNELS, s10)
                    store(tile, CHANNELS + LANES, s11)
                    store(tile, 2 * CHANNELS, s20)
                    store(tile, 2 * CHANNELS + LANES, s21)
                    store(tile, 3 * CHANNELS, s30)
                    store(tile, 3 * CHANNELS + LANES, s31)
                    for k in range(min(BLOCK, wo - q)):
                        for m in range(min(CHANNELS, og - o)):
                            out[n, g * og + o + m, p, q + k] = tile[k * CHANNELS + m]


@njit(nogil=True, cache=True)
def _weight_grad_shares(start, stop, x, frame, grad, columns, step_t, sh, dh, kh,
                        partial):  # fmt: skip  # pragma: no cover (JIT)
    """Share s of start..stop adds into partial[s] (G, og_pad, run_pad), dW per group with
    its (j, i, c) inputs along the rows, the weight gradient of its equal part of the output
    rows: a tile of RUN_TILE inputs by GRAD_CHANNELS channels at a time, over the row's
    pixels."""
    _, c_out, ho, wo = grad.shape
    shares, groups, og_pad, run_pad = partial.shape
    og, current = c_out // groups, -1
    padded, rows, flat, pixel = row_buffers(x, frame, columns, kh, step_t, groups)
    grad_t = np.zeros(wo * og_pad, dtype=np.float32)  # G^T[q, o]; spare channels stay 0
    units = x.shape[0] * ho
    for s in range(start, stop):
        for u in range(units * s // shares, units * (s + 1) // shares):
            n, p = u // ho, u % ho
            current = fill_rows(x, n, p * sh, dh, frame, padded, current, columns, rows)
            for g in range(groups):
                buffer, grad_w = flat[g], partial[s, g].reshape(-1)
                for q in range(wo):
                    for m in range(og):
                        grad_t[q * og_pad + m] = grad[n, g * og + m, p, q]
                for o in range(0, og, GRAD_CHANNELS):
                    for e in range(0, run_pad, RUN_TILE):
                        at = o * run_pad + e  # dW[o + m, e : e + RUN_TILE] at m run_pad + at
                        d00, d01 = load(grad_w, at), load(grad_w, at + LANES)
                        d10 = load(grad_w, at + run_pad)
                        d11 = load(grad_w, at + run_pad + LANES)
                        d20 = load(grad_w, at + 2 * run_pad)
                        d21 = load(grad_w, at + 2 * run_pad + LANES)
                        d30 = load(grad_w, at + 3 * run_pad)
                        d31 = load(grad_w, at + 3 * run_pad + LANES)
                        for q in range(wo):
                            r0 = load(buffer, q * pixel + e)  # R_q[e : e + 32]
                            r1 = load(buffer, q * pixel + e + LANES)
                            g_q = grad_t[q * og_pad + o : q * og_pad + o + GRAD_CHANNELS]
                            a = splat(g_q[0])
                            d00, d01 = fma(a, r0, d00), fma(a, r1, d01)
                            a = splat(g_q[1])
                            d10, d11 = fma(a, r0, d10), fma(a, r1, d11)
                            a = splat(g_q[2])
                            d20, d21 = fma(a, r0, d20), fma(a, r1, d21)
                            a = splat(g_q[3])
                            d30, d31 = fma(a, r0, d30), fma(a, r1, d31)
                        store(grad_w, at, d00)
                        store(grad_w, at + LANES, d01)
                        store(grad_w, at + run_pad, d10)
                        store(grad_w, at + run_pad + LANES, d11)
                        store(grad_w, at + 2 * run_pad, d20)
                        store(grad_w, at + 2 * run_pad + LANES, d21)
                        store(grad_w, at + 3 * run_pad, d30)
                        store(grad_w, at + 3 * run_pad + LANES, d31)


def _padded(channels: int) -> int:
    return -(-channels // CHANNELS) * CHANNELS


# The forward's tiles against _direct's loop, one core, alternating, 3x3 kernels, batch 64:
# 32 -> 32 channels at 14 x 14, forward 2.4-2.7 ms against 3.4, input gradient 2.4-2.7 against
# 3.4-3.5; at 7 x 7, 0.69 against 0.85 for both; the input gradient of 32 -> 8 at 14 x 14 (the
# adjoint has 32 output channels) 1.04-1.08 against 1.55-1.62. With fewer output channels than
# a tile, its spare channels cost as much as real ones, and _direct's loop keeps them. On short
# runs the tiles are level with im2col and BLAS or faster from 32 numbers on: 4 -> 32 at 14 x 14
# (36 numbers), forward 0.75 against 0.87 ms, weight gradient 0.77 against 1.01; 8 -> 32 at
# 7 x 7 (72), 0.30 / 0.33 against 0.39 / 0.47; with 9 to 27 numbers level; one channel with a
# 4x4 kernel (16) 2.7 times as long.
MIN_CHANNELS = CHANNELS
MIN_RUN = 32


def pays(g: ConvGeometry, dtype: np.dtype) -> bool:
    """Whether the tiles serve this forward: float32, a whole tile of output channels a group,
    and runs of MIN_RUN numbers or more."""
    run = g.kh * g.kw * (g.c_in // g.groups)
    return dtype == np.float32 and g.c_out // g.groups >= MIN_CHANNELS and run >= MIN_RUN


def weight_grad_pays(g: ConvGeometry, dtype: np.dtype) -> bool:
    """Whether the tiles serve this weight gradient: float32 and runs of MIN_RUN or more."""
    return dtype == np.float32 and g.kh * g.kw * (g.c_in // g.groups) >= MIN_RUN


def conv2d(x: np.ndarray, w: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """out (N, O, Ho, Wo) = the convolution of x (N, C, H, W) with w (O, C/groups, kh, kw)."""
    og = g.c_out // g.groups
    taps = w.reshape(g.groups, og, -1, g.kh, g.kw).transpose(0, 4, 3, 2, 1)  # (G, j, i, c, o)
    w_cols = np.zeros((g.groups, g.kw * g.kh * (g.c_in // g.groups), _padded(og)), np.float32)
    w_cols[:, :, :og] = taps.reshape(g.groups, -1, og)
    columns, step_t = buffer_columns(g)
    for_each_share(_output_rows, g.n * g.ho, np.ascontiguousarray(x), padded_frame(g, columns),
                   w_cols, columns, step_t, g.sh, g.dh, g.kh, out)  # fmt: skip


def weight_grad(x: np.ndarray, grad_out: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """d<grad_out, conv2d(x, w)>/dw, (O, C/groups, kh, kw)."""
    og, shares = g.c_out // g.groups, share_count(g.n * g.ho)
    run = g.kw * g.kh * (g.c_in // g.groups)
    og_pad, run_pad = -(-og // GRAD_CHANNELS) * GRAD_CHANNELS, -(-run // RUN_TILE) * RUN_TILE
    partial = np.zeros((shares, g.groups, og_pad, run_pad), np.float32)
    columns, step_t = buffer_columns(g)
    for_each_share(_weight_grad_shares, shares, np.ascontiguousarray(x), padded_frame(g, columns),
                   np.ascontiguousarray(grad_out), columns, step_t, g.sh, g.dh, g.kh,
                   partial)  # fmt: skip
    taps = partial[:, :, :og, :run].sum(axis=0).reshape(g.groups, og, g.kw, g.kh, -1)
    return taps.transpose(0, 1, 4, 3, 2).reshape(g.c_out, -1, g.kh, g.kw)  # from (j, i, c)
