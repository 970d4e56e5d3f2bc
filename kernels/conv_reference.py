"""Convolutions as explicit sums: the definitions the fast kernels are tested against.

With x padded by p, a kernel of size k, stride s and dilation d,

    conv2d(x, w)[n, o, p, q] = sum_{c, i, j} w[o, c, i, j] x_pad[n, c, p s + i d, q s + j d]

(c runs over the input channels of o's group). Each sum below is written as one term per
kernel tap (i, j), which is how it reads in the definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kernels._shapes import ConvGeometry, geometry, pair


def _tap(g: ConvGeometry, i: int, j: int) -> tuple[slice, slice]:
    """The padded-input rows and columns that kernel tap (i, j) meets, one per output pixel."""
    rows = slice(i * g.dh, i * g.dh + g.sh * (g.ho - 1) + 1, g.sh)
    cols = slice(j * g.dw, j * g.dw + g.sw * (g.wo - 1) + 1, g.sw)
    return rows, cols


def _pad(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (g.pt, g.pb), (g.pl, g.pr)))


def _group_slices(g: ConvGeometry):
    cg, og = g.c_in // g.groups, g.c_out // g.groups
    for k in range(g.groups):
        yield slice(k * cg, (k + 1) * cg), slice(k * og, (k + 1) * og)


def conv2d_reference(
    x: np.ndarray, w: np.ndarray, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:  # fmt: skip
    g = geometry("conv2d", x.shape, w.shape, stride, padding, dilation, groups)
    x_pad = _pad(x, g)
    out = np.zeros((g.n, g.c_out, g.ho, g.wo), dtype=x.dtype)
    for c, o in _group_slices(g):
        for i in range(g.kh):
            for j in range(g.kw):
                rows, cols = _tap(g, i, j)
                out[:, o] += np.einsum("ncpq,oc->nopq", x_pad[:, c, rows, cols], w[o, :, i, j])
    return out


def conv2d_input_grad_reference(
    grad_out: np.ndarray, w: np.ndarray, input_shape: tuple[int, ...], stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> np.ndarray:  # fmt: skip
    """d<grad_out, conv2d(x, w)>/dx: each tap sends grad_out back to the pixels it read."""
    g = geometry("conv2d_input_grad", input_shape, w.shape, stride, padding, dilation, groups)
    grad_pad = np.zeros((g.n, g.c_in, g.h + g.pt + g.pb, g.w + g.pl + g.pr), grad_out.dtype)
    for c, o in _group_slices(g):
        for i in range(g.kh):
            for j in range(g.kw):
                rows, cols = _tap(g, i, j)
                grad_pad[:, c, rows, cols] += np.einsum(
                    "nopq,oc->ncpq", grad_out[:, o], w[o, :, i, j]
                )
    return grad_pad[:, :, g.pt : g.pt + g.h, g.pl : g.pl + g.w]


def conv2d_weight_grad_reference(
    x: np.ndarray, grad_out: np.ndarray, weight_shape: tuple[int, ...], stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> np.ndarray:  # fmt: skip
    """d<grad_out, conv2d(x, w)>/dw: each tap correlates grad_out with the pixels it read."""
    g = geometry("conv2d_weight_grad", x.shape, weight_shape, stride, padding, dilation, groups)
    x_pad = _pad(x, g)
    grad_w = np.zeros(weight_shape, dtype=x.dtype)
    for c, o in _group_slices(g):
        for i in range(g.kh):
            for j in range(g.kw):
                rows, cols = _tap(g, i, j)
                grad_w[o, :, i, j] = np.einsum(
                    "nopq,ncpq->oc", grad_out[:, o], x_pad[:, c, rows, cols]
                )
    return grad_w


def conv_transpose2d_reference(
    x: np.ndarray, w: np.ndarray, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
    dilation: Any = 1, groups: int = 1,
) -> np.ndarray:  # fmt: skip
    """The scatter that defines conv_transpose2d, per axis and before cropping:

        full[n, o, a s + i d, b s + j d] += sum_c w[c, o, i, j] x[n, c, a, b]

    and out = full[p : p + H_out] (per axis), where rows past full's end are zeros (an
    output_padding beyond the padding). It is the adjoint of conv2d when output_padding is
    below the stride."""
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    oph, opw = pair(output_padding, "output_padding")
    dh, dw = pair(dilation, "dilation")
    if not (0 <= oph < max(sh, dh) and 0 <= opw < max(sw, dw)):  # PyTorch's rule
        raise ValueError(
            f"conv_transpose2d: output_padding {output_padding} must be smaller than the stride "
            f"{stride} or the dilation {dilation}"
        )
    n, c_in, h, w_in = x.shape
    c_out, kh, kw = w.shape[1] * groups, w.shape[2], w.shape[3]
    reach_h, reach_w = (h - 1) * sh + dh * (kh - 1) + 1, (w_in - 1) * sw + dw * (kw - 1) + 1
    h_out, w_out = reach_h - 2 * ph + oph, reach_w - 2 * pw + opw
    if h_out < 1 or w_out < 1:
        raise ValueError(f"conv_transpose2d: output would be {h_out}x{w_out}")
    full = np.zeros((n, c_out, max(reach_h, ph + h_out), max(reach_w, pw + w_out)), x.dtype)
    cg, og = c_in // groups, c_out // groups
    for k in range(groups):
        c, o = slice(k * cg, (k + 1) * cg), slice(k * og, (k + 1) * og)
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (h - 1) + 1, sh)
                cols = slice(j * dw, j * dw + sw * (w_in - 1) + 1, sw)
                full[:, o, rows, cols] += np.einsum("ncab,co->noab", x[:, c], w[c, :, i, j])
    return full[:, :, ph : ph + h_out, pw : pw + w_out]


def conv1d_reference(
    x: np.ndarray, w: np.ndarray, stride: int = 1, padding: Any = 0, dilation: int = 1,
    groups: int = 1,
) -> np.ndarray:  # fmt: skip
    """out[n, o, t] = sum_{c, j} w[o, c, j] x_pad[n, c, t s + j d]; padding an int or a
    (left, right) pair (causal: ((k - 1) d, 0))."""
    left, right = (padding, padding) if np.ndim(padding) == 0 else padding
    g = geometry("conv1d", x[:, :, None].shape, w[:, :, None].shape, (1, stride),
                 (0, 0, left, right), (1, dilation), groups)  # fmt: skip
    x_pad = np.pad(x, ((0, 0), (0, 0), (left, right)))
    out = np.zeros((g.n, g.c_out, g.wo), dtype=x.dtype)
    for c, o in _group_slices(g):
        for j in range(g.kw):
            taps = x_pad[:, c, j * dilation : j * dilation + stride * (g.wo - 1) + 1 : stride]
            out[:, o] += np.einsum("nct,oc->not", taps, w[o, :, j])
    return out
