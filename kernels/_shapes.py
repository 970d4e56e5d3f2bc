"""Argument normalisation and shape checks shared by the convolution kernels and references."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

FLOATS = (np.float32, np.float64)


def pair(value: Any, name: str) -> tuple[int, int]:
    """An int or a pair of ints, as PyTorch's convolutions take them."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    values = tuple(int(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return values  # type: ignore[return-value]


class ConvGeometry(NamedTuple):
    """Everything about a 2-D convolution except the numbers in it.

    Padding is stored per side (top, bottom, left, right), so that a causal 1-D convolution,
    padded on the left only, is the same computation.
    """

    n: int
    c_in: int
    h: int
    w: int
    c_out: int
    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pb: int
    pl: int
    pr: int
    dh: int
    dw: int
    groups: int
    ho: int
    wo: int


def geometry(
    name: str,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> ConvGeometry:
    """Validate a conv2d call and compute its output size; errors name the shapes."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(
            f"{name}: expected input (N, C, H, W) and weight (O, C/groups, kh, kw), got input "
            f"{tuple(x_shape)} and weight {tuple(w_shape)}"
        )
    n, c_in, h, w = x_shape
    c_out, c_per_group, kh, kw = w_shape
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    if isinstance(padding, tuple) and len(padding) == 4:
        pt, pb, pl, pr = (int(p) for p in padding)
    else:
        ph, pw = pair(padding, "padding")
        pt, pb, pl, pr = ph, ph, pw, pw
    if min(sh, sw, dh, dw) < 1 or min(pt, pb, pl, pr) < 0 or groups < 1:
        raise ValueError(
            f"{name}: stride and dilation must be >= 1, padding >= 0 and groups >= 1 "
            f"(got stride {stride}, padding {padding}, dilation {dilation}, groups {groups})"
        )
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"{name}: {c_in} input and {c_out} output channels are not divisible by groups={groups}"
        )
    if c_in != c_per_group * groups:
        raise ValueError(
            f"{name}: input has {c_in} channels but weight expects {c_per_group * groups} "
            f"(input {tuple(x_shape)}, weight {tuple(w_shape)}, groups={groups})"
        )
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if span_h > h + pt + pb or span_w > w + pl + pr:
        raise ValueError(
            f"{name}: kernel {kh}x{kw} (dilation {dh}x{dw}) is larger than the padded input "
            f"{h + pt + pb}x{w + pl + pr} (input {tuple(x_shape)})"
        )
    ho = (h + pt + pb - span_h) // sh + 1
    wo = (w + pl + pr - span_w) // sw + 1
    return ConvGeometry(
        n, c_in, h, w, c_out, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, groups, ho, wo
    )


class TransposedConv(NamedTuple):
    """A conv_transpose2d as the input gradient of a conv2d (``adjoint``), followed by
    ``zeros`` = (rows, columns) appended at the bottom and right, where no input reaches."""

    adjoint: ConvGeometry
    zeros: tuple[int, int]


def transpose_geometry(
    name: str,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: Any,
    padding: Any,
    output_padding: Any,
    dilation: Any,
    groups: int,
) -> TransposedConv:
    """The conv2d whose input gradient a conv_transpose2d computes.

    conv_transpose2d maps x (N, C_in, H, W) with weight (C_in, C_out/groups, kh, kw) to
    (N, C_out, H_out, W_out), H_out = (H - 1) s - 2p + d (k - 1) + output_padding + 1, by
    scattering: out[i s + j d - p] += w[j] x[i] (per axis). The scatter reaches output rows up
    to (H - 1) s + d (k - 1) - p, so output_padding adds op - p rows that nothing reaches when
    op > p, and the rows it does reach are the input gradient of a conv2d with padding p above
    and max(p - op, 0) below, whose output has exactly H rows.

    output_padding must be smaller than the stride or the dilation, as in PyTorch: below the
    stride it picks among the input sizes a strided conv2d maps to the same output size; at
    stride 1 and dilation d > 1 it lengthens the output by rows of zeros and the last taps'
    reach.
    """
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(
            f"{name}: expected input (N, C, H, W) and weight (C_in, C_out/groups, kh, kw), got "
            f"input {tuple(x_shape)} and weight {tuple(w_shape)}"
        )
    if x_shape[1] != w_shape[0]:
        raise ValueError(
            f"{name}: input has {x_shape[1]} channels but weight expects {w_shape[0]} "
            f"(input {tuple(x_shape)}, weight {tuple(w_shape)})"
        )
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    oph, opw = pair(output_padding, "output_padding")
    dh, dw = pair(dilation, "dilation")
    if not (0 <= oph < max(sh, dh) and 0 <= opw < max(sw, dw)):
        raise ValueError(
            f"{name}: output_padding {output_padding} must be smaller than the stride {stride} "
            f"or the dilation {dilation}"
        )
    n, _, h, w = x_shape
    c_out = w_shape[1] * groups
    h_out = (h - 1) * sh - 2 * ph + dh * (w_shape[2] - 1) + oph + 1
    w_out = (w - 1) * sw - 2 * pw + dw * (w_shape[3] - 1) + opw + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"{name}: output would be {h_out}x{w_out} (input {tuple(x_shape)})")
    zeros = (max(oph - ph, 0), max(opw - pw, 0))
    reached = (n, c_out, h_out - zeros[0], w_out - zeros[1])
    sides = (ph, max(ph - oph, 0), pw, max(pw - opw, 0))
    g = geometry(name, reached, w_shape, stride, sides, dilation, groups)
    if (g.ho, g.wo) != (h, w):
        raise ValueError(f"{name}: input {tuple(x_shape)} does not match this geometry")
    return TransposedConv(g, zeros)


def append_zeros(out: np.ndarray, zeros: tuple[int, int]) -> np.ndarray:
    """``out`` with rows and columns of zeros appended (a TransposedConv's unreached part)."""
    if zeros == (0, 0):
        return out
    return np.pad(out, ((0, 0), (0, 0), (0, zeros[0]), (0, zeros[1])))


def check_float(name: str, *arrays: np.ndarray) -> np.dtype:
    """All arrays float32 or all float64: kernels never convert silently."""
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1 or next(iter(dtypes)) not in FLOATS:
        raise TypeError(
            f"{name}: expected float32 or float64 arrays of one dtype, got "
            f"{[str(a.dtype) for a in arrays]}"
        )
    return arrays[0].dtype
