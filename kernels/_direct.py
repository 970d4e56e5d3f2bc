"""Direct convolution, one output row at a time, 4 output pixels by 4 output channels at once.

Each output is a dot product over the input channels and the kernel's taps,

    out[n, o, p, q] = sum_{i, j, c} x_pad[n, p s_h + i d_h, q s_w + j d_w, c] W[o, c, i, j]

with each sample copied channels-last and padded (x_pad[n, row, col, c]) by the thread
whose output rows are in it. For one output row (n, p), the kernel's rows i are copied into
a small buffer in which the numbers one output pixel needs lie side by side, taps (j, i)
and channels c:

    rows[t, i, c] = x_pad[n, p s_h + i d_h, col(t), c]    col(t) = t, or, if d_w > 1,
                                                           (t // k_w) s_w + (t % k_w) d_w

so that output pixel q reads the run rows[q s_w : q s_w + k_w] (rows[q k_w : (q + 1) k_w]
with a dilated width), k_w k_h C numbers, against the weights W[o] in the same (j, i, c)
order. Each run is one vectorised loop that keeps sixteen sums in registers, 4 neighbouring
pixels by 4 channels, so each number loaded feeds four multiply-adds and nothing is stored
inside the loop. The buffer holds k_h copies of a row (k_h k_w with a dilated width): a few
kilobytes, in the first-level cache. With groups, each group has its own buffer, and runs of
k_w k_h C/groups numbers.

The input gradient at stride 1 is the same forward loop, run on the output gradient with the
kernel flipped (``flipped_kernel``, ``adjoint_geometry``). The weight gradient walks the same
runs, in ``kernels._tiles``.

Why not im2col here: on (128, 32, 8, 8) -> 32, k=3, im2col copied 2.4 million numbers
(about 1 ms) through the last-level cache, and its BLAS product, 32 rows against 288, ran at
60-75 GFLOP/s. (``kernels.conv`` chooses between the two by the measurements given there.)

Three details make LLVM vectorise the loop. Each run is a slice, so the index inside it
counts from 0 and Numba's test for negative indices folds away (indexing the flat array at
``base + e`` kept the test, and the loop became gathers: 7 GFLOP/s). The sums are scalars, not
an array, so they stay in registers (in an array, a store into it might alias the next load,
and the loop stayed scalar). And ``fastmath`` allows reassociating the sums, so that the
reduction runs in vector lanes; only reassociation and contraction are allowed, so that a NaN
or an infinity still propagates as IEEE arithmetic says. A run of one kernel row instead of
all of them (96 numbers on the shape above) spent as long reducing the sixteen vectors to
scalars as in the loop.

A block of 4 pixels may run past the row's end, and a block of 4 channels past the group's
last: the buffer has spare zero columns, the weights spare zero rows, and those sums are never
stored.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels._shapes import ConvGeometry, geometry
from kernels._threads import for_each_share

BLOCK = 4  # output pixels along a row, and output channels, per register block
SLACK = 32  # numbers past a row buffer's last run that a loop may read (see row_buffers)
# The helpers are inlined into both kernels (inline="always"): compiled on their own and then
# optimised again inside each, the direct path took 5.6-7.1 s to compile cold, 4.5-5.5 s so.
_FASTMATH = {"reassoc", "contract"}


@njit(nogil=True, cache=True, inline="always")
def _pad_sample(x, n, pt, pl, padded):  # pragma: no cover (JIT)
    """padded[pt + r, pl + col, c] = x[n, c, r, col], 0 elsewhere: sample n channels-last."""
    _, channels, h, w = x.shape
    padded[:] = 0
    planes = x[n].reshape(channels, h * w)
    for r in range(h):
        inside = padded[pt + r, pl : pl + w]
        for col in range(w):
            pixel, e = inside[col], r * w + col
            for c in range(channels):  # write along the channels, read across the planes
                pixel[c] = planes[c, e]


@njit(nogil=True, cache=True, inline="always")
def fill_rows(x, n, top, step, frame, padded, current, columns, rows):  # pragma: no cover (JIT)
    """rows[g, t, i, c] = x_pad[n, top + i step, columns[t], g Cg + c], C/groups adjacent
    numbers at a time, from ``padded``: sample n channels-last, padded as ``frame`` says,
    made here unless ``current``, the sample it holds, is n already. Returns n."""
    if n != current:  # each thread pads the samples its rows are in, once each
        _pad_sample(x, n, frame[0], frame[1], padded)
    groups, _, kh, cg = rows.shape
    for g in range(groups):
        for t in range(columns.shape[0]):
            for i in range(kh):
                source = padded[top + i * step, columns[t]]
                target = rows[g, t, i]
                for c in range(cg):
                    target[c] = source[g * cg + c]
    return n


@njit(nogil=True, cache=True, inline="always")
def row_buffers(x, frame, columns, kh, step_t, groups):  # pragma: no cover (JIT)
    """A thread's buffers for ``fill_rows``: the padded copy of a sample, the rows (G, T +
    spare, kh, Cg) and their flat view per group, and the distance from one output pixel's run
    to the next's in that view. The spare columns, zeros that ``fill_rows`` never writes, let a
    loop read up to SLACK numbers past the last run (``kernels._tiles``' weight gradient)."""
    cg = x.shape[1] // groups
    padded = np.empty((frame[2], frame[3], x.shape[1]), dtype=x.dtype)
    spare = -(-SLACK // (kh * cg))
    rows = np.zeros((groups, columns.shape[0] + spare, kh, cg), dtype=x.dtype)
    return padded, rows, rows.reshape(groups, -1), step_t * kh * cg


@njit(nogil=True, cache=True, inline="always")
def pixel_runs(buffer, q, pixel, run):  # pragma: no cover (JIT)
    """The runs of output pixels q .. q + 3 in one group's buffer, ``pixel`` numbers apart."""
    a = q * pixel
    return (buffer[a : a + run], buffer[a + pixel : a + pixel + run],
            buffer[a + 2 * pixel : a + 2 * pixel + run],
            buffer[a + 3 * pixel : a + 3 * pixel + run])  # fmt: skip


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _output_rows(start, stop, x, frame, w_rows, columns, step_t, sh, dh, kh,
                 out):  # fmt: skip  # pragma: no cover (JIT)
    """Output rows u = n Ho + p, u in start..stop, of out (N, O, Ho, Wo). frame: (top, left)
    padding and (height, width) of a padded sample; w_rows: per group, og_pad rows of
    weights in (j, i, c) order; columns: the padded column of each buffer column t; output
    pixel q's run starts at t = q step_t."""
    _, c_out, ho, wo = out.shape
    groups, _, run = w_rows.shape
    og, current = c_out // groups, -1
    padded, rows, flat, pixel = row_buffers(x, frame, columns, kh, step_t, groups)
    tile = np.empty((BLOCK, BLOCK), dtype=out.dtype)
    for u in range(start, stop):
        n, p = u // ho, u % ho
        current = fill_rows(x, n, p * sh, dh, frame, padded, current, columns, rows)
        for g in range(groups):
            buffer = flat[g]
            for q in range(0, wo, BLOCK):
                x0, x1, x2, x3 = pixel_runs(buffer, q, pixel, run)
                for o in range(0, og, BLOCK):
                    block = w_rows[g, o : o + BLOCK]
                    w0, w1, w2, w3 = block[0], block[1], block[2], block[3]
                    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = out.dtype.type(0)
                    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = out.dtype.type(0)
                    for e in range(run):
                        a0, a1, a2, a3 = x0[e], x1[e], x2[e], x3[e]
                        b0, b1, b2, b3 = w0[e], w1[e], w2[e], w3[e]
                        s00 += a0 * b0
                        s01 += a0 * b1
                        s02 += a0 * b2
                        s03 += a0 * b3
                        s10 += a1 * b0
                        s11 += a1 * b1
                        s12 += a1 * b2
                        s13 += a1 * b3
                        s20 += a2 * b0
                        s21 += a2 * b1
                        s22 += a2 * b2
                        s23 += a2 * b3
                        s30 += a3 * b0
                        s31 += a3 * b1
                        s32 += a3 * b2
                        s33 += a3 * b3
                    tile[0, 0], tile[0, 1], tile[0, 2], tile[0, 3] = s00, s01, s02, s03
                    tile[1, 0], tile[1, 1], tile[1, 2], tile[1, 3] = s10, s11, s12, s13
                    tile[2, 0], tile[2, 1], tile[2, 2], tile[2, 3] = s20, s21, s22, s23
                    tile[3, 0], tile[3, 1], tile[3, 2], tile[3, 3] = s30, s31, s32, s33
                    for k in range(min(BLOCK, wo - q)):  # tile[pixel, channel]
                        for m in range(min(BLOCK, og - o)):
                            out[n, g * og + o + m, p, q + k] = tile[k, m]


def _ceil(value: int, step: int) -> int:
    return -(-value // step) * step


def buffer_columns(g: ConvGeometry) -> tuple[np.ndarray, int]:
    """The padded input's column under each buffer column, and how many buffer columns one
    output pixel moves its run by."""
    pixels = _ceil(g.wo, BLOCK)  # the last block's spare pixels read spare zero columns
    if g.dw == 1:  # a kernel row's taps are adjacent columns: pixels share them
        return np.arange((pixels - 1) * g.sw + g.kw), g.sw
    q, j = np.divmod(np.arange(pixels * g.kw), g.kw)
    return q * g.sw + j * g.dw, g.kw


def padded_frame(g: ConvGeometry, columns: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left) padding and (height, width) of a padded sample: wide enough for every
    buffer column, the spare ones included, which read zeros."""
    return g.pt, g.pl, g.h + g.pt + g.pb, max(g.w + g.pl + g.pr, int(columns.max()) + 1)


def _rows_of_weights(w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """w (O, C/groups, kh, kw) as (groups, og_pad, kw kh C/groups): each output channel's
    weights in the buffer's (j, i, c) order, zero rows up to a whole block."""
    og = g.c_out // g.groups
    taps = w.reshape(g.groups, og, -1, g.kh, g.kw).transpose(0, 1, 4, 3, 2)  # (G, og, j, i, c)
    w_rows = np.zeros((g.groups, _ceil(og, BLOCK), g.kw * g.kh * (g.c_in // g.groups)), w.dtype)
    w_rows[:, :og] = taps.reshape(g.groups, og, -1)
    return w_rows


def conv2d(x: np.ndarray, w: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """out (N, O, Ho, Wo) = the convolution of x (N, C, H, W) with w (O, C/groups, kh, kw)."""
    columns, step_t = buffer_columns(g)
    for_each_share(_output_rows, g.n * g.ho, np.ascontiguousarray(x), padded_frame(g, columns),
                   _rows_of_weights(w, g), columns, step_t, g.sh, g.dh, g.kh, out)  # fmt: skip


def transposable(g: ConvGeometry) -> bool:
    """Whether the input gradient is a stride-1 convolution (``adjoint_geometry``): stride 1,
    and no more padding than the kernel spans."""
    span_h, span_w = g.dh * (g.kh - 1), g.dw * (g.kw - 1)
    return (g.sh, g.sw) == (1, 1) and max(g.pt, g.pb) <= span_h and max(g.pl, g.pr) <= span_w


def adjoint_geometry(g: ConvGeometry) -> ConvGeometry:
    """The stride-1 convolution that is the input gradient: grad_out (N, O, Ho, Wo) with the
    flipped kernel (C, O/groups, kh, kw), padded by d (k - 1) - p on each side."""
    span_h, span_w = g.dh * (g.kh - 1), g.dw * (g.kw - 1)
    pads = (span_h - g.pt, span_h - g.pb, span_w - g.pl, span_w - g.pr)
    flipped = (g.c_in, g.c_out // g.groups, g.kh, g.kw)
    return geometry("conv2d_input_grad", (g.n, g.c_out, g.ho, g.wo), flipped, 1, pads,
                    (g.dh, g.dw), g.groups)  # fmt: skip


def flipped_kernel(w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The weights of ``adjoint_geometry(g)``: w's kernel flipped and its channels swapped
    within each group, (C, O/groups, kh, kw). The input gradient at stride 1
    (``transposable``) is the convolution of grad_out with them."""
    og, cg = g.c_out // g.groups, g.c_in // g.groups
    flipped = w[:, :, ::-1, ::-1].reshape(g.groups, og, cg, g.kh, g.kw).transpose(0, 2, 1, 3, 4)
    return flipped.reshape(g.c_in, og, g.kh, g.kw)
