"""Convolutions as engine primitives: conv2d, conv_transpose2d, conv1d (PyTorch's names).

A convolution is linear in its input and in its weight, and its three derivatives are
convolutions of one another (for y = conv2d(x, w) and upstream gradient g):

    dx = conv2d_input_grad(g, w)      = conv_transpose2d(g, w)
    dw = conv2d_weight_grad(x, g)

and since <g, conv2d(x, w)> is bilinear, the derivatives of those are again the same three
kernels with the roles of their arguments exchanged (see the VJP table below). So every
gradient here is itself differentiable: a convolutional critic can be differentiated twice
(WGAN-GP).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from kernels import conv as _conv


# ---------------------------------------------------------------- convolution primitives
def _conv2d_forward(x, w, *bias, stride, padding, dilation, groups):
    """(out, columns): conv2d keeps its columns matrix (when the batch fits in one chunk) for
    the weight gradient. An optional bias is added into the fresh output: as an engine add it
    was one more full-size array per convolution, kept alive until the backward."""
    out, columns = _conv.conv2d_keeping_columns(x, w, stride, padding, dilation, groups)
    if bias:
        out += bias[0].reshape((1, -1) + (1,) * (out.ndim - 2))
    return out, columns


_conv2d = ad.primitive(_conv2d_forward, name="conv2d", saves=True)
_input_grad = ad.primitive(
    lambda g, w, input_shape, stride, padding, dilation, groups: _conv.conv2d_input_grad(
        g, w, input_shape, stride, padding, dilation, groups
    ),
    name="conv2d_input_grad",
)
_weight_grad = ad.primitive(
    lambda x, g, weight_shape, stride, padding, dilation, groups, columns=None: (
        _conv.conv2d_weight_grad(x, g, weight_shape, stride, padding, dilation, groups, columns)
    ),
    name="conv2d_weight_grad",
)
_conv_transpose2d = ad.primitive(
    lambda x, w, output_padding, stride, padding, dilation, groups: _conv.conv_transpose2d(
        x, w, stride, padding, output_padding, dilation, groups
    ),
    name="conv_transpose2d",
)

# y = conv2d(x, w) + b:  dx = input_grad(g, w),  dw = weight_grad(x, g),  db = g summed per channel
_conv2d.defvjp(
    lambda g, ans, x, w, *b, saved, **p: _input_grad(g, w, input_shape=x.shape, **p),
    lambda g, ans, x, w, *b, saved, **p: _weight_grad(x, g, weight_shape=w.shape, columns=saved,
                                                      **p),
    lambda g, ans, x, w, b, saved, **p: ad.sum(g, axis=(0, 2, 3)),
)  # fmt: skip
# y = input_grad(g, w), <gg, y> = <conv2d(gg, w), g>:   dg = conv2d(gg, w),  dw = weight_grad(gg, g)
_input_grad.defvjp(
    lambda gg, ans, g, w, input_shape, **p: _conv2d(gg, w, **p),
    lambda gg, ans, g, w, input_shape, **p: _weight_grad(gg, g, weight_shape=w.shape, **p),
)
# y = weight_grad(x, g), <gw, y> = <conv2d(x, gw), g>:  dx = input_grad(g, gw), dg = conv2d(x, gw)
# (the columns, of x, are a cache: they play no part in the derivative)
_weight_grad.defvjp(
    lambda gw, ans, x, g, weight_shape, columns=None, **p: _input_grad(
        g, gw, input_shape=x.shape, **p
    ),
    lambda gw, ans, x, g, weight_shape, columns=None, **p: _conv2d(x, gw, **p),
)


def _transpose_adjoint(gy: Tensor, x: Tensor, w: Tensor, output_padding, stride, padding,
                       dilation, groups) -> tuple[Tensor, dict[str, Any]]:  # fmt: skip
    """For y = conv_transpose2d(x, w): the part of gy on the rows and columns that some input
    reaches, and the conv2d (per-side padding) whose input gradient y is there."""
    t = _conv.conv_transpose2d_as_conv2d(x.shape, w.shape, stride, padding, output_padding,
                                         dilation, groups)  # fmt: skip
    g = t.adjoint
    settings = dict(stride=stride, padding=(g.pt, g.pb, g.pl, g.pr), dilation=dilation,
                    groups=groups)  # fmt: skip
    return gy[:, :, : g.h, : g.w], settings


# y = conv_transpose2d(x, w) = input_grad(x, w) on the rows it reaches, then zeros:
# dx = conv2d(gy', w), dw = weight_grad(gy', x), with gy' the gradient on the reached rows
def _transpose_dx(gy: Tensor, ans: Tensor, x: Tensor, w: Tensor, **p: Any) -> Tensor:
    reached, settings = _transpose_adjoint(gy, x, w, **p)
    return _conv2d(reached, w, **settings)


def _transpose_dw(gy: Tensor, ans: Tensor, x: Tensor, w: Tensor, **p: Any) -> Tensor:
    reached, settings = _transpose_adjoint(gy, x, w, **p)
    return _weight_grad(reached, x, weight_shape=w.shape, **settings)


_conv_transpose2d.defvjp(_transpose_dx, _transpose_dw)


def _same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[int, ...]:
    """(before, after) per spatial axis so that stride 1 keeps the size; the odd one goes after,
    as in PyTorch."""
    sides = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        sides += [total // 2, total - total // 2]
    return tuple(sides)


def _as_pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if np.ndim(value) == 0 else tuple(int(v) for v in value)


def _checked_bias(bias: Any, weight: Tensor) -> tuple[Tensor, ...]:
    """() or (bias,), for a conv2d weight (O, ...): one number per output channel."""
    if bias is None:
        return ()
    bias = ad.astype(ad.as_constant(bias), weight.dtype)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"bias of shape {bias.shape} does not match {weight.shape[0]} channels")
    return (bias,)


def _add_bias(out: Tensor, bias: Any, spatial_dims: int) -> Tensor:
    if bias is None:
        return out
    bias = ad.as_constant(bias)
    if bias.shape != (out.shape[1],):
        raise ValueError(f"bias of shape {bias.shape} does not match {out.shape[1]} channels")
    return out + ad.reshape(bias, (1, -1) + (1,) * spatial_dims)


def conv2d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """2-D cross-correlation, NCHW input and OIHW weight, as ``torch.nn.functional.conv2d``.

    out[n, o, p, q] = bias[o] + sum_{c, i, j} weight[o, c, i, j] x_pad[n, c, p s + i d, q s + j d]

    ``padding``: an int, a pair, per-side (top, bottom, left, right), ``"valid"`` (none) or
    ``"same"`` (stride 1 only).
    """
    input, weight = ad.as_constant(input), ad.as_constant(weight)
    stride, dilation = _as_pair(stride), _as_pair(dilation)
    if isinstance(padding, str):
        if padding == "same" and stride != (1, 1):
            raise ValueError("conv2d: padding='same' needs stride 1")
        if padding not in ("same", "valid"):
            raise ValueError(
                f"conv2d: padding must be an int, a pair, 'same' or 'valid', not {padding!r}"
            )
        padding = _same_padding(weight.shape[2:], dilation) if padding == "same" else (0, 0)
    elif np.ndim(padding) == 1 and len(padding) == 4:
        padding = tuple(int(p) for p in padding)
    else:
        padding = _as_pair(padding)
    return _conv2d(input, weight, *_checked_bias(bias, weight), stride=stride, padding=padding,
                   dilation=dilation, groups=groups)  # fmt: skip


def conv_transpose2d(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:  # fmt: skip
    """The adjoint of conv2d (a "deconvolution"), weight (C_in, C_out/groups, kh, kw), as
    ``torch.nn.functional.conv_transpose2d`` (note its argument order: groups, then dilation).

    H_out = (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
    """
    input, weight = ad.as_constant(input), ad.as_constant(weight)
    out = _conv_transpose2d(
        input, weight, output_padding=_as_pair(output_padding), stride=_as_pair(stride),
        padding=_as_pair(padding), dilation=_as_pair(dilation), groups=groups,
    )  # fmt: skip
    return _add_bias(out, bias, 2)


def conv1d(
    input: Any, weight: Any, bias: Any = None, stride: int = 1, padding: Any = 0,
    dilation: int = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """1-D cross-correlation, (N, C, L) input and (O, C/groups, k) weight.

    ``padding``: an int, ``"valid"``, ``"same"``, or a (left, right) pair; WaveNet's causal
    convolution pads ((k - 1) dilation, 0), so the output at t sees inputs up to t only.
    """
    input, weight = ad.as_constant(input), ad.as_constant(weight)
    if input.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv1d: expected input (N, C, L) and weight (O, C/groups, k), got input "
            f"{input.shape} and weight {weight.shape}"
        )
    if padding == "same":
        left, right = _same_padding(weight.shape[2:], (dilation,))
    elif padding == "valid":
        left, right = 0, 0
    else:
        left, right = (padding, padding) if np.ndim(padding) == 0 else padding
    out = _conv2d(
        ad.unsqueeze(input, 2), ad.unsqueeze(weight, 2), *_checked_bias(bias, weight),
        stride=(1, int(stride)), padding=(0, 0, int(left), int(right)),
        dilation=(1, int(dilation)), groups=groups,
    )  # fmt: skip
    return ad.squeeze(out, 2)
