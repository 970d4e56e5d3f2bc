"""Convolution layers: ``Conv2d``, ``ConvTranspose2d`` and WaveNet's ``CausalConv1d``."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn import init
from scratchgen.nn.module import Module, Parameter


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if np.ndim(value) == 0 else tuple(int(v) for v in value)


def _weight_and_bias(module: Module, shape: tuple[int, ...], fan_in: int, bias: bool,
                     channels: int, rng: np.random.Generator, dtype: Any) -> None:  # fmt: skip
    module.weight = Parameter(init.default_uniform(rng, shape, fan_in, dtype))
    module.bias = Parameter(init.default_uniform(rng, (channels,), fan_in, dtype)) if bias else None


class Conv2d(Module):
    """2-D convolution, weight (out, in / groups, kh, kw), as ``torch.nn.Conv2d``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True, *,
                 rng: np.random.Generator, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.in_channels, self.out_channels = in_channels, out_channels
        fan_in = in_channels // groups * kh * kw
        shape = (out_channels, in_channels // groups, kh, kw)
        _weight_and_bias(self, shape, fan_in, bias, out_channels, rng, dtype)

    def forward(self, x: Any) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)  # fmt: skip

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.weight.shape[2:]}, "
                f"stride={self.stride}, padding={self.padding}")  # fmt: skip


class ConvTranspose2d(Module):
    """Transposed convolution, weight (in, out / groups, kh, kw), as
    ``torch.nn.ConvTranspose2d``: upsamples by ``stride``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.groups, self.dilation = groups, dilation
        self.in_channels, self.out_channels = in_channels, out_channels
        # PyTorch computes the fan from weight.shape[1], the output channels per group
        fan_in = out_channels // groups * kh * kw
        shape = (in_channels, out_channels // groups, kh, kw)
        _weight_and_bias(self, shape, fan_in, bias, out_channels, rng, dtype)

    def forward(self, x: Any) -> Tensor:
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)  # fmt: skip


class CausalConv1d(Module):
    """1-D convolution whose output at t sees inputs up to t only: it pads (k - 1) dilation
    on the left (van den Oord et al., "WaveNet", 2016, section 2.1). Stacking layers with
    dilations 1, 2, 4, ... grows the receptive field exponentially."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 dilation: int = 1, bias: bool = True, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.dilation = dilation
        self.in_channels, self.out_channels = in_channels, out_channels
        shape = (out_channels, in_channels, kernel_size)
        _weight_and_bias(self, shape, in_channels * kernel_size, bias, out_channels, rng, dtype)

    @property
    def receptive_field(self) -> int:
        return (self.weight.shape[2] - 1) * self.dilation + 1

    def forward(self, x: Any) -> Tensor:
        left = (self.weight.shape[2] - 1) * self.dilation
        return F.conv1d(x, self.weight, self.bias, padding=(left, 0), dilation=self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.weight.shape[2]}, "
                f"dilation={self.dilation}")  # fmt: skip
