"""``LayerNorm`` and ``GroupNorm`` with learned scale and shift (initialised to 1 and 0)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn import init
from scratchgen.nn.module import Module, Parameter


class LayerNorm(Module):
    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(init.ones(shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(init.zeros(shape, dtype)) if elementwise_affine else None

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class GroupNorm(Module):
    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: {num_channels} channels do not split into {num_groups} groups"
            )
        self.num_groups, self.eps = num_groups, eps
        self.weight = Parameter(init.ones((num_channels,), dtype)) if affine else None
        self.bias = Parameter(init.zeros((num_channels,), dtype)) if affine else None

    def forward(self, x: Any) -> Tensor:
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.weight.shape[0] if self.weight is not None else '?'}"
