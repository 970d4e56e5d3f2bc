"""Fast convolutions: a direct loop where it pays, else im2col and col2im with BLAS products.

Four ways, chosen per call by what measured fastest (``kernels._tiles.pays`` and DIRECT_RUN
below):

- ``kernels._tiles``: outer products, 4 output pixels by 32 output channels of sums in vector
  registers, for float32 convolutions with 32 output channels or more a group and dot products
  of 32 numbers or more: the forward, the weight gradient, and the input gradient at stride 1
  of every image with 32 channels or more (the adjoint convolution then has 32 outputs).
- ``kernels._direct``: each output pixel's dot product over (tap, channel) as one vectorised
  loop over a channels-last copy, 4 pixels by 4 channels in registers: the forward, the
  weight gradient, and the input gradient at stride 1. In float32 it serves the forward and
  weight gradient of every convolution whose dot products have at least DIRECT_RUN numbers (8
  input channels with a 3x3 kernel) and 4 per output channel, and the input gradient at
  stride 1 of every image with 3 channels or more.
- im2col / col2im and BLAS, below: shorter dot products (few input channels, as in a first
  layer, or many output channels for few inputs), and the input gradient of a strided
  convolution (conv_transpose2d).
- A 1x1 kernel at stride 1: one product per sample, on the NCHW arrays as they are
  (``_pointwise_products``): out[n] = W x[n], (O, C) @ (C, H W). Through im2col's layout (a
  transposed copy in, one large product, a transposed copy out) it was 20-50% slower on a
  UNet's 1x1 skips: (64, 96, 28, 28) -> 32, 6.5 against 5.1 ms forward, 8.3 against 6.1 for
  the weight gradient.

im2col: forward and weight gradient. The columns matrix has one row per (input channel, kernel tap)
and one column per (sample, output pixel):

    cols[(c, i, j), (n, p, q)] = x_pad[n, c, p s + i d, q s + j d]         (C k k, N Ho Wo)

so each product is a single large GEMM over a chunk of the batch:

    forward        out   = W cols           (O, C k k) @ (C k k, N Ho Wo)
    weight grad    dW    = G cols^T         (O, N Ho Wo) @ (N Ho Wo, C k k)

Input gradient. It is the adjoint of im2col applied to dcols = W^T G, but scattering dcols
back onto NCHW pixels runs along rows of only Wo numbers with a bounds test on each (13.2 ms
on (32, 64, 28, 28), k=3, against 14 ms for the product itself). So this one product is taken
in the transposed layout instead, one row per output pixel and one column per (tap, channel):

    dcols[(n, p, q), (i, j, c)] = sum_o G[o, (n, p, q)] W[o, c, i, j]    (N Ho Wo, k k C)

and col2im adds each row's k k runs of C consecutive numbers (k runs of k C numbers when the
dilation along the width is 1) into a padded channels-last gradient grad_rows[n, row, col, c],
which is cropped back to NCHW once at the end. That scatter took 6.3 ms on the same shape, and
the whole input gradient went from 23-27 ms to 19 ms (conv_transpose2d, the same computation:
7.1-8.4 ms to 5.5-6.3 ms on N=32, 128->64, 8->16). The same layout for the forward and the
weight gradient measured no faster (the weight gradient's product was slower in it), so they
keep the first one.

Why im2col at all: on a dot product of few numbers the direct loop spends its time outside
its vectorised loop, while BLAS multiplies the columns at 60-250 GFLOP/s. The batch is
processed in chunks (see CHUNK_ELEMENTS) so that a chunk's columns are still in cache when
the product reads them. The loops are split over threads by
``kernels._threads.for_each_share`` in independent units (im2col: rows (c, i, j); col2im:
samples, so that no two threads ever add into the same pixel). As ``prange`` loops the three
took 3.2 s to compile per dtype, as plain ``nogil`` loops 0.9 s, and ran as fast within this
machine's noise.

Winograd's F(2x2, 3x3) (Lavin & Gray 2016) served 3x3 convolutions on images of 500 pixels
or more before the direct loop: on (32, 64, 28, 28) it beat im2col (12-16 ms against 15-22
forward), but the direct loop beat it there (13.5-13.9 against 16-24 ms, forward and input
gradient alike), and on few channels, where the direct loop does not pay, it was level with
im2col or up to 6.7 times slower (one channel, 28x28: 7.8 against 1.2 ms forward). So it
went.

Keeping the columns. When im2col serves the forward and the whole batch fits in one chunk
(PixelCNN's first 7x7 layer on 8x8 digits, 64 at a time), ``conv2d_keeping_columns`` returns
the forward's columns matrix, and ``conv2d_weight_grad`` multiplies it instead of running
im2col again (on 3x3 blocks, before the direct loop took them: 0.8-0.9 ms against 2.2-2.4).
A larger batch recomputes them, so what is kept between the passes never exceeds one chunk
(CHUNK_ELEMENTS numbers) per convolution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from kernels import _direct as direct
from kernels import _tiles as tiles
from kernels._shapes import (
    ConvGeometry,
    TransposedConv,
    append_zeros,
    check_float,
    geometry,
    transpose_geometry,
)
from kernels._threads import for_each_share


@njit(nogil=True, cache=True)
def _im2col(start, stop, planes, index, cols):  # pragma: no cover (JIT)
    """Rows start..stop of the columns matrix, one (c, i, j) each:
    cols[(c, i, j), (n, p, q)] = planes[n, c, index[i kw + j, p Wo + q]]."""
    taps, per_image = index.shape
    for r in range(start, stop):
        c, tap = r // taps, r % taps
        for n in range(planes.shape[0]):
            plane, base = planes[n, c], n * per_image
            for e in range(per_image):
                cols[r, base + e] = plane[index[tap, e]]


@njit(nogil=True, cache=True)
def _col2im_rows(start, stop, dcols, n0, c0, kh, kw, sh, sw, dh, dw, ho, wo,
                 grad_rows):  # fmt: skip  # pragma: no cover (JIT)
    """grad_rows[n, p sh + i dh, q sw + j dw, c0 + c] += dcols[((n - n0) Ho + p) Wo + q,
    (i kw + j) Cg + c], for the chunk's samples n0 + start .. n0 + stop and the Cg channels of
    one group."""
    cg = dcols.shape[1] // (kh * kw)
    one_run = dw == 1 and cg == grad_rows.shape[3]  # a kernel row's taps: kw Cg adjacent numbers
    flat = grad_rows.reshape(grad_rows.shape[0], grad_rows.shape[1], -1)  # (N, Hp, Wp C)
    for local in range(start, stop):
        n = n0 + local
        for p in range(ho):
            for q in range(wo):
                row = (local * ho + p) * wo + q
                for i in range(kh):
                    r = p * sh + i * dh
                    if one_run:
                        start = q * sw * cg
                        for e in range(kw * cg):
                            flat[n, r, start + e] += dcols[row, i * kw * cg + e]
                        continue
                    for j in range(kw):
                        col = q * sw + j * dw
                        base = (i * kw + j) * cg
                        for c in range(cg):
                            grad_rows[n, r, col, c0 + c] += dcols[row, base + c]


@njit(nogil=True, cache=True)
def _crop_rows(start, stop, grad_rows, pt, pl, out):  # pragma: no cover (JIT)
    """out[n, c, row, col] = grad_rows[n, row + pt, col + pl, c] for samples start..stop: back
    to NCHW, padding cut."""
    _, c_in, h, w = out.shape
    for n in range(start, stop):
        for c in range(c_in):
            for row in range(h):
                for col in range(w):
                    out[n, c, row, col] = grad_rows[n, row + pt, col + pl, c]


# Samples per chunk: enough for a large GEMM, few enough that the chunk's columns (about
# CHUNK_ELEMENTS numbers) are still in cache when the product reads them. On (32, 64, 28, 28),
# k=3, the whole batch at once (a 58 MB columns matrix) took 19.9 ms forward against 13 ms in
# chunks; sizes from 2^19 to 2^23 numbers differed by less than this machine's run-to-run
# noise, and 2^21 was the best of three sweeps on shapes (a), (c) and (d).
CHUNK_ELEMENTS = 1 << 21


def _chunks(g: ConvGeometry):
    per_sample = g.c_in * g.kh * g.kw * g.ho * g.wo
    size = max(1, min(g.n, CHUNK_ELEMENTS // max(per_sample, 1)))
    for start in range(0, g.n, size):
        yield start, min(start + size, g.n)


# The direct loop (kernels._direct) against im2col + BLAS, forward, input and weight gradient,
# in alternating runs, 3x3 kernels unless said.
#
# Forward and weight gradient: the direct loop is faster wherever each output pixel's dot
# product has 64 numbers or more and at least 4 per output channel. On (128, 32, 8, 8) -> 32
# (288 numbers): 1.5-2.3 ms against 3.6-4.8 per pass; on (32, 16, 28, 28) -> 16, k=5 (400):
# 3.5 against 8.5-10.8. With 49 numbers (one channel, 7x7) and 27 (three) it took 1.3-1.9
# times as long. Many output channels on a short dot product favour BLAS, whose one product
# serves them all while the direct loop pays its per-run overhead once per block of 4
# channels: on a small Glow's conditioners (batch 64), 8 -> 32 channels (72 numbers) took
# 1.3-2.2 times as long direct, at 7x7, 14x14 and 28x28, and 16 -> 64 (144) 1.3-2.5 times;
# 16 -> 32 and 32 -> 32 were level or faster direct. Few output channels favour the direct
# loop even with spare ones in its block: 32 -> 2 at 14x14, 0.5 ms against 1.7-2.5 forward,
# 0.85 against 1.4-1.8 weight gradient; 32 -> 1 at 28x28, 0.8 against 2.3.
#
# The input gradient is another matter: im2col's side of it is a product and a scatter
# (col2im), and the direct loop took 0.1-0.8 times as long wherever the image has 4 channels
# or more (8 or 32 -> 1 to 4 channels, 45 numbers a dot product or fewer: 0.1-0.6), whatever
# the length of its dot products; with 1 or 2 channels 1.0-2.1 times, with 3 0.6-1.3.
#
# The direct loop serves float32 only: compiling its two loops for float64 as well added 3.8 s
# to the cold compile of every kernel (issue 3 asks for under 20 s), and float64 convolutions
# here are gradient checks on small arrays, where im2col serves as well.
DIRECT_RUN = 64
DIRECT_RUN_PER_CHANNEL = 4
DIRECT_CHANNELS = 3
DIRECT_DTYPES = (np.float32,)


def _direct_pays(g: ConvGeometry, dtype: np.dtype) -> bool:
    """Whether the direct loop beats im2col on this forward or weight gradient (measured
    above)."""
    run, channels = g.kh * g.kw * (g.c_in // g.groups), g.c_out // g.groups
    long_enough = run >= DIRECT_RUN and run >= DIRECT_RUN_PER_CHANNEL * channels
    return dtype in DIRECT_DTYPES and long_enough and not _pointwise(g)


def _direct_input_grad_pays(g: ConvGeometry, dtype: np.dtype) -> bool:
    """Whether the direct loop beats col2im on this input gradient (measured above): it is
    the forward loop run on the adjoint geometry, whose output channels are g's inputs."""
    channels = g.c_in // g.groups
    return dtype in DIRECT_DTYPES and direct.transposable(g) and channels >= DIRECT_CHANNELS


def _direct_conv(x: np.ndarray, w: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """out = conv2d(x, w) by a direct loop: outer-product tiles for many output channels
    (``kernels._tiles``), else ``kernels._direct``'s dot products."""
    (tiles.conv2d if tiles.pays(g, x.dtype) else direct.conv2d)(x, w, g, out)


def _pointwise(g: ConvGeometry) -> bool:
    """A 1x1 kernel at stride 1 without padding: each output pixel reads its own input pixel."""
    return (g.kh, g.kw, g.sh, g.sw, g.pt, g.pb, g.pl, g.pr) == (1, 1, 1, 1, 0, 0, 0, 0)


class _Im2col:
    """The columns of a batch, chunk by chunk: ``im2col(a, b, out)`` fills ``out`` (a buffer
    reused across chunks) with those of samples a..b and returns them.

    Every tap reads a padded copy of the chunk through a table of offsets into each (sample,
    channel) plane: index[i kw + j, p Wo + q] = (p s + i d) Wp + q s + j d. The gather has no
    bounds test, and against the loop that tested each number it took 0.7-1.2 ms instead of
    0.9-2.2 on 2 million numbers (shapes (a)-(d), padding included).
    """

    def __init__(self, x: np.ndarray, g: ConvGeometry) -> None:
        self.x, self.g = x, g
        height, width = g.h + g.pt + g.pb, g.w + g.pl + g.pr
        self.padded = np.zeros((_largest_chunk(g), g.c_in, height, width), x.dtype)  # borders: 0
        i, j, p, q = np.ix_(np.arange(g.kh), np.arange(g.kw), np.arange(g.ho), np.arange(g.wo))
        offsets = (p * g.sh + i * g.dh) * width + q * g.sw + j * g.dw
        self.index = offsets.reshape(g.kh * g.kw, g.ho * g.wo)

    def __call__(self, a: int, b: int, out: np.ndarray) -> np.ndarray:
        g = self.g
        cols = out[:, : (b - a) * g.ho * g.wo]
        # padded chunk by chunk, so that a chunk's copy is still in cache when the gather reads it
        padded = self.padded[: b - a]
        padded[:, :, g.pt : g.pt + g.h, g.pl : g.pl + g.w] = self.x[a:b]
        planes = padded.reshape(b - a, g.c_in, -1)
        for_each_share(_im2col, cols.shape[0], planes, self.index, cols)
        return cols


def _largest_chunk(g: ConvGeometry) -> int:
    return max(b - a for a, b in _chunks(g))


def _buffer(g: ConvGeometry, dtype: np.dtype) -> np.ndarray:
    return np.empty((g.c_in * g.kh * g.kw, _largest_chunk(g) * g.ho * g.wo), dtype=dtype)


def _grouped(matrix: np.ndarray, groups: int) -> np.ndarray:
    """(rows, cols) -> (groups, rows / groups, cols): one slab per group, a view."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def _as_matrix(images: np.ndarray) -> np.ndarray:
    """(n, C, Ho, Wo) -> (C, n Ho Wo), the layout of W @ cols."""
    n, c = images.shape[:2]
    return images.reshape(n, c, -1).transpose(1, 0, 2).reshape(c, -1)


def _from_matrix(matrix: np.ndarray, out: np.ndarray) -> None:
    """(C, n Ho Wo) -> out (n, C, Ho, Wo)."""
    n, c = out.shape[:2]
    out.reshape(n, c, -1)[...] = matrix.reshape(c, n, -1).transpose(1, 0, 2)


def _per_sample(a: np.ndarray, groups: int) -> np.ndarray:
    """(n, C, H, W) -> (n, groups, C / groups, H W), a view where a is contiguous."""
    n, c = a.shape[:2]
    return np.ascontiguousarray(a).reshape(n, groups, c // groups, -1)


def _pointwise_products(w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """A 1x1 kernel as one matrix per group, (G, O/G, C/G)."""
    return w.reshape(g.groups, g.c_out // g.groups, g.c_in // g.groups)


def _conv(x: np.ndarray, w: np.ndarray, g: ConvGeometry,
          keep: bool = False) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """The forward, and (if ``keep`` and the batch is one chunk) its columns matrix."""
    x = np.ascontiguousarray(x)
    out = np.empty((g.n, g.c_out, g.ho, g.wo), dtype=x.dtype)
    if _pointwise(g):  # out[n] = W x[n]
        np.matmul(_pointwise_products(w, g), _per_sample(x, g.groups),
                  out=out.reshape(g.n, g.groups, g.c_out // g.groups, -1))  # fmt: skip
        return out, None
    if tiles.pays(g, x.dtype) or _direct_pays(g, x.dtype):
        _direct_conv(x, w, g, out)
        return out, None
    chunks = list(_chunks(g))
    w_matrix = w.reshape(g.groups, g.c_out // g.groups, -1)  # (G, O/G, C/G k k)
    im2col, buffer = _Im2col(x, g), _buffer(g, x.dtype)
    for a, b in chunks:
        cols = _grouped(im2col(a, b, buffer), g.groups)  # (G, C/G k k, n Ho Wo)
        _from_matrix(np.matmul(w_matrix, cols).reshape(g.c_out, -1), out[a:b])
    # columns are kept only for a weight gradient that would multiply them, not the tiles'
    kept = keep and len(chunks) == 1 and not tiles.weight_grad_pays(g, x.dtype)
    return out, (buffer if kept else None)


def _input_grad(grad_out: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    cg, og, per_sample = g.c_in // g.groups, g.c_out // g.groups, g.ho * g.wo
    if _pointwise(g):  # dx[n] = W^T G[n]: nothing to scatter
        grad_x = np.empty((g.n, g.c_in, g.h, g.w), dtype=grad_out.dtype)
        np.matmul(_pointwise_products(w, g).transpose(0, 2, 1), _per_sample(grad_out, g.groups),
                  out=grad_x.reshape(g.n, g.groups, cg, -1))  # fmt: skip
        return grad_x
    if _direct_input_grad_pays(g, grad_out.dtype):
        grad_x = np.empty((g.n, g.c_in, g.h, g.w), dtype=grad_out.dtype)
        _direct_conv(grad_out, direct.flipped_kernel(w, g), direct.adjoint_geometry(g), grad_x)
        return grad_x
    # W[(i, j, c), o] for each group: (groups, kh kw Cg, Og)
    w_taps = w.reshape(g.groups, og, cg, g.kh, g.kw).transpose(0, 3, 4, 2, 1)
    w_taps = np.ascontiguousarray(w_taps).reshape(g.groups, -1, og)
    grad_rows = np.zeros((g.n, g.h + g.pt + g.pb, g.w + g.pl + g.pr, g.c_in), grad_out.dtype)
    buffer = np.empty((_largest_chunk(g) * per_sample, g.kh * g.kw * cg), grad_out.dtype)
    for a, b in _chunks(g):
        grad_matrix = _grouped(_as_matrix(grad_out[a:b]), g.groups)  # (G, Og, n Ho Wo)
        grad_cols = buffer[: (b - a) * per_sample]  # (n Ho Wo, kh kw Cg)
        for k in range(g.groups):
            np.matmul(grad_matrix[k].T, w_taps[k].T, out=grad_cols)
            for_each_share(_col2im_rows, b - a, grad_cols, a, k * cg, g.kh, g.kw, g.sh, g.sw,
                           g.dh, g.dw, g.ho, g.wo, grad_rows)  # fmt: skip
    grad_x = np.empty((g.n, g.c_in, g.h, g.w), dtype=grad_out.dtype)
    for_each_share(_crop_rows, g.n, grad_rows, g.pt, g.pl, grad_x)
    return grad_x


def _weight_grad(x: np.ndarray, grad_out: np.ndarray, g: ConvGeometry,
                 columns: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    if _pointwise(g):  # dW = sum_n G[n] x[n]^T
        products = np.matmul(_per_sample(grad_out, g.groups),
                             _per_sample(x, g.groups).transpose(0, 1, 3, 2))  # fmt: skip
        return products.sum(axis=0).reshape(g.c_out, g.c_in // g.groups, 1, 1)
    if columns is None and tiles.weight_grad_pays(g, x.dtype):
        return tiles.weight_grad(x, grad_out, g)
    x = np.ascontiguousarray(x)
    grad_w = np.zeros((g.groups, g.c_out // g.groups, g.c_in // g.groups * g.kh * g.kw), x.dtype)
    kept = columns is not None  # then they are the whole batch's, from the forward
    im2col, buffer = (None, None) if kept else (_Im2col(x, g), _buffer(g, x.dtype))
    for a, b in [(0, g.n)] if kept else _chunks(g):
        cols = _grouped(columns if kept else im2col(a, b, buffer), g.groups)
        grad_matrix = _grouped(_as_matrix(grad_out[a:b]), g.groups)
        grad_w += np.matmul(grad_matrix, cols.transpose(0, 2, 1))  # (G, O/G, C/G k k)
    return grad_w.reshape(g.c_out, g.c_in // g.groups, g.kh, g.kw)


# ---------------------------------------------------------------- public kernels
def conv2d(
    x: np.ndarray, w: np.ndarray, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:  # fmt: skip
    """2-D cross-correlation, NCHW input and OIHW weight (as ``torch.nn.functional.conv2d``).

    ``padding`` is an int, a pair, or (top, bottom, left, right).
    """
    check_float("conv2d", x, w)
    return _conv(x, w, geometry("conv2d", x.shape, w.shape, stride, padding, dilation, groups))[0]


def conv2d_keeping_columns(
    x: np.ndarray, w: np.ndarray, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """conv2d, and the columns matrix it multiplied when the whole batch fitted in one chunk
    (None otherwise): given back to ``conv2d_weight_grad``, it spares the recomputation."""
    check_float("conv2d", x, w)
    g = geometry("conv2d", x.shape, w.shape, stride, padding, dilation, groups)
    return _conv(x, w, g, keep=True)


def conv2d_input_grad(
    grad_out: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...], stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> np.ndarray:  # fmt: skip
    """d<grad_out, conv2d(x, w)>/dx for x of ``input_shape``."""
    check_float("conv2d_input_grad", grad_out, w)
    g = geometry("conv2d_input_grad", input_shape, w.shape, stride, padding, dilation, groups)
    _check_output("conv2d_input_grad", grad_out, g)
    return _input_grad(grad_out, w, g)


def conv2d_weight_grad(
    x: np.ndarray, grad_out: np.ndarray, weight_shape: tuple[int, ...], stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1, columns: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """d<grad_out, conv2d(x, w)>/dw for w of ``weight_shape``; ``columns``: what
    ``conv2d_keeping_columns`` returned for this x, if anything."""
    check_float("conv2d_weight_grad", x, grad_out)
    g = geometry("conv2d_weight_grad", x.shape, weight_shape, stride, padding, dilation, groups)
    _check_output("conv2d_weight_grad", grad_out, g)
    if columns is not None:
        _check_columns(columns, x, g)
    return _weight_grad(x, grad_out, g, columns)


def conv_transpose2d(
    x: np.ndarray, w: np.ndarray, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
    dilation: Any = 1, groups: int = 1,
) -> np.ndarray:  # fmt: skip
    """The adjoint of conv2d, weight (C_in, C_out/groups, kh, kw) as in PyTorch: it spreads
    each input pixel over a kernel-sized patch of a larger output (upsampling)."""
    check_float("conv_transpose2d", x, w)
    t = transpose_geometry("conv_transpose2d", x.shape, w.shape, stride, padding,
                           output_padding, dilation, groups)  # fmt: skip
    return append_zeros(_input_grad(x, w, t.adjoint), t.zeros)


def conv_transpose2d_as_conv2d(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> TransposedConv:  # fmt: skip
    """The conv2d whose input gradient a conv_transpose2d is (its per-side padding and the
    output rows and columns it reaches), and the zeros after them: what its gradients need."""
    return transpose_geometry("conv_transpose2d", x_shape, w_shape, stride, padding,
                              output_padding, dilation, groups)  # fmt: skip


def conv1d(
    x: np.ndarray, w: np.ndarray, stride: int = 1, padding: Any = 0, dilation: int = 1,
    groups: int = 1,
) -> np.ndarray:  # fmt: skip
    """1-D cross-correlation, (N, C, L) input and (O, C/groups, k) weight; ``padding`` is an
    int or a (left, right) pair, so a causal convolution pads ((k - 1) dilation, 0)."""
    check_float("conv1d", x, w)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(
            f"conv1d: expected input (N, C, L) and weight (O, C/groups, k), got input {x.shape} "
            f"and weight {w.shape}"
        )
    left, right = (padding, padding) if np.ndim(padding) == 0 else padding
    out = conv2d(x[:, :, None], w[:, :, None], (1, stride), (0, 0, left, right), (1, dilation),
                 groups)  # fmt: skip
    return out[:, :, 0]


def _check_columns(columns: np.ndarray, x: np.ndarray, g: ConvGeometry) -> None:
    expected = (g.c_in * g.kh * g.kw, g.n * g.ho * g.wo)
    if columns.shape != expected or columns.dtype != x.dtype:
        raise ValueError(
            f"conv2d_weight_grad: columns of shape {columns.shape} ({columns.dtype}) are not "
            f"those of this input, {expected} ({x.dtype})"
        )


def _check_output(name: str, grad_out: np.ndarray, g: ConvGeometry) -> None:
    expected = (g.n, g.c_out, g.ho, g.wo)
    if grad_out.shape != expected:
        raise ValueError(f"{name}: grad_out has shape {grad_out.shape}, expected {expected}")
