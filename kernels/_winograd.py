"""3x3 convolution at stride 1 by Winograd's minimal filtering, F(2x2, 3x3).

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016, section 4: each 2x2
block of outputs Y comes from the 4x4 block of input d under it and the 3x3 kernel g as

    Y = A^T [ (G g G^T) * (B^T d B) ] A            (* elementwise over the 4x4 positions)

    B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
          [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
          [0 -1  1  0]         [1/2 -1/2  1/2]
          [0  1  0 -1]         [ 0    0    1 ]

Summed over input channels, each of the 16 positions xi is one matrix product
M[xi] = U[xi] V[xi], with U[xi] = (G g G^T)[xi] of shape (O, C) and V[xi] = (B^T d B)[xi] of
shape (C, tiles): 16 products with 2.25 times fewer multiplications than im2col's one, and
no 9-fold copy of the input. The transforms are additions only; they run in Numba, the
samples split over the threads. ``kernels.conv`` uses this for the forward and the input
gradient where it measured faster than im2col (see WINOGRAD_PIXELS there). In float32 its
results differed from float64 sums by 2-8e-7 of their largest value, im2col's by 2-8e-7 too.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from kernels._threads import for_each_share

_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])


@njit(nogil=True, cache=True)
def _input_transform(start, stop, padded, tiles_h, tiles_w, V):  # pragma: no cover (JIT)
    """V[4 a + b, c, tile] = (B^T d B)[a, b] for the 4x4 block d of each tile of samples
    start..stop; B^T runs along whole rows first, then B tile by tile."""
    channels, width = padded.shape[1], padded.shape[3]
    rows = np.empty((4, width), dtype=padded.dtype)
    for n in range(start, stop):
        for c in range(channels):
            for ty in range(tiles_h):
                first, r = (n * tiles_h + ty) * tiles_w, 2 * ty
                for col in range(width):
                    d0, d1 = padded[n, c, r, col], padded[n, c, r + 1, col]
                    d2, d3 = padded[n, c, r + 2, col], padded[n, c, r + 3, col]
                    rows[0, col], rows[1, col] = d0 - d2, d1 + d2
                    rows[2, col], rows[3, col] = d2 - d1, d1 - d3
                for a in range(4):
                    for tx in range(tiles_w):
                        e0, e1 = rows[a, 2 * tx], rows[a, 2 * tx + 1]
                        e2, e3 = rows[a, 2 * tx + 2], rows[a, 2 * tx + 3]
                        tile = first + tx
                        V[4 * a, c, tile], V[4 * a + 1, c, tile] = e0 - e2, e1 + e2
                        V[4 * a + 2, c, tile], V[4 * a + 3, c, tile] = e2 - e1, e1 - e3


@njit(nogil=True, cache=True)
def _output_transform(start, stop, M, tiles_h, tiles_w, out):  # pragma: no cover (JIT)
    """out[n, o, 2 ty + i, 2 tx + j] = (A^T m A)[i, j], m the 4x4 block M[:, o, tile]."""
    for n in range(start, stop):
        for o in range(M.shape[1]):
            for ty in range(tiles_h):
                first, r = (n * tiles_h + ty) * tiles_w, 2 * ty
                for tx in range(tiles_w):
                    t, q = first + tx, 2 * tx
                    top0 = M[0, o, t] + M[4, o, t] + M[8, o, t]  # rows of A^T m
                    top1 = M[1, o, t] + M[5, o, t] + M[9, o, t]
                    top2 = M[2, o, t] + M[6, o, t] + M[10, o, t]
                    top3 = M[3, o, t] + M[7, o, t] + M[11, o, t]
                    low0 = M[4, o, t] - M[8, o, t] - M[12, o, t]
                    low1 = M[5, o, t] - M[9, o, t] - M[13, o, t]
                    low2 = M[6, o, t] - M[10, o, t] - M[14, o, t]
                    low3 = M[7, o, t] - M[11, o, t] - M[15, o, t]
                    out[n, o, r, q], out[n, o, r, q + 1] = top0 + top1 + top2, top1 - top2 - top3
                    out[n, o, r + 1, q] = low0 + low1 + low2
                    out[n, o, r + 1, q + 1] = low1 - low2 - low3


def conv3x3(x: np.ndarray, w: np.ndarray, pads: tuple[int, int, int, int], out: np.ndarray,
            chunk_elements: int) -> None:  # fmt: skip
    """out = conv2d(x, w) at stride 1 with padding (top, bottom, left, right), w (O, C, 3, 3);
    the batch in chunks of about ``chunk_elements`` numbers of V."""
    n, c_in, h, width = x.shape
    top, _, left, _ = pads
    ho, wo = out.shape[2], out.shape[3]
    tiles_h, tiles_w = (ho + 1) // 2, (wo + 1) // 2
    tiles = tiles_h * tiles_w
    G = _G.astype(x.dtype)
    U = np.einsum("ai,ocij,bj->aboc", G, w, G).reshape(16, w.shape[0], c_in)  # G g G^T
    size = max(1, min(n, chunk_elements // (16 * max(c_in, w.shape[0]) * tiles)))
    # zeros around the input: its padding, and beyond it up to whole tiles
    padded = np.zeros((size, c_in, 2 * tiles_h + 2, 2 * tiles_w + 2), dtype=x.dtype)
    even = ho % 2 == 0 and wo % 2 == 0  # else whole tiles are computed and cropped
    whole = None if even else np.empty((size, w.shape[0], 2 * tiles_h, 2 * tiles_w), x.dtype)
    for a in range(0, n, size):
        b = min(a + size, n)
        padded[: b - a, :, top : top + h, left : left + width] = x[a:b]
        V = np.empty((16, c_in, (b - a) * tiles), dtype=x.dtype)
        for_each_share(_input_transform, b - a, padded, tiles_h, tiles_w, V)
        M = np.matmul(U, V)  # (16, O, tiles)
        target = out[a:b] if even else whole[: b - a]
        for_each_share(_output_transform, b - a, M, tiles_h, tiles_w, target)
        if not even:
            out[a:b] = whole[: b - a, :, :ho, :wo]
