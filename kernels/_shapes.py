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


def transpose_geometry(
    name: str,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    stride: Any,
    padding: Any,
    output_padding: Any,
    dilation: Any,
    groups: int,
) -> ConvGeometry:
    """The conv2d whose input gradient a conv_transpose2d computes.

    conv_transpose2d maps x (N, C_in, H, W) with weight (C_in, C_out/groups, kh, kw) to
    (N, C_out, H_out, W_out), H_out = (H - 1) s - 2p + d (k - 1) + output_padding + 1: the
    shape of the input of the conv2d (C_out -> C_in) that would have produced x.
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
    # It picks among the output sizes that a strided conv2d maps to the same input size, so it
    # must stay below the stride (PyTorch also admits it below the dilation at stride 1, where
    # it only appends zeros: no conv2d has that adjoint).
    if not (0 <= oph < sh and 0 <= opw < sw):
        raise ValueError(
            f"{name}: output_padding {output_padding} must be smaller than the stride {stride}"
        )
    n, _, h, w = x_shape
    c_out = w_shape[1] * groups
    h_out = (h - 1) * sh - 2 * ph + dh * (w_shape[2] - 1) + oph + 1
    w_out = (w - 1) * sw - 2 * pw + dw * (w_shape[3] - 1) + opw + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"{name}: output would be {h_out}x{w_out} (input {tuple(x_shape)})")
    g = geometry(name, (n, c_out, h_out, w_out), w_shape, stride, padding, dilation, groups)
    if (g.ho, g.wo) != (h, w):
        raise ValueError(f"{name}: input {tuple(x_shape)} does not match this geometry")
    return g


def check_float(name: str, *arrays: np.ndarray) -> np.dtype:
    """All arrays float32 or all float64: kernels never convert silently."""
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) != 1 or next(iter(dtypes)) not in FLOATS:
        raise TypeError(
            f"{name}: expected float32 or float64 arrays of one dtype, got "
            f"{[str(a.dtype) for a in arrays]}"
        )
    return arrays[0].dtype
