"""``Linear``: y = x W^T + b."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn import init
from scratchgen.nn.module import Module, Parameter


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features), initialised as PyTorch's
    (uniform in +-1/sqrt(in_features))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: np.random.Generator, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        shape = (out_features, in_features)
        self.weight = Parameter(init.default_uniform(rng, shape, in_features, dtype))
        self.bias = (
            Parameter(init.default_uniform(rng, (out_features,), in_features, dtype))
            if bias else None
        )  # fmt: skip

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"
