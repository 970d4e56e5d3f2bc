"""Activation layers: thin modules over ``scratchgen.nn.functional``."""

from __future__ import annotations

from typing import Any

from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn.module import Module


class ReLU(Module):
    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)


class ELU(Module):
    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)


class GELU(Module):
    def forward(self, x: Any) -> Tensor:
        return F.gelu(x)


class SiLU(Module):
    def forward(self, x: Any) -> Tensor:
        return F.silu(x)


class Softplus(Module):
    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta)


class Tanh(Module):
    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)
