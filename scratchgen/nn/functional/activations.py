"""Activation functions with PyTorch's names (``dim`` for the softmax axis)."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor

relu = ad.relu
sigmoid = ad.sigmoid
tanh = ad.tanh

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


def _leaky_relu_forward(x: np.ndarray, negative_slope: float) -> np.ndarray:
    out = x * x.dtype.type(negative_slope)
    if 0.0 <= negative_slope <= 1.0:  # then max(x, a x) is the function: two passes, not three
        return np.maximum(x, out, out=out)
    return np.where(x > 0, x, out)


def _slopes(x: Tensor, negative_slope: float) -> np.ndarray:
    """The derivative: 1 where x > 0, negative_slope elsewhere (a constant for the VJP, so
    higher orders see the function as piecewise linear)."""
    one, slope = x.dtype.type(1), x.dtype.type(negative_slope)
    return np.where(x.data > 0, one, slope)  # in x's dtype: no float64 pass


# One primitive: as ad.where(x > 0, x, a x) it took 24 ms of a 100 ms DCGAN step (three
# full-size arrays forward, two where's backward)
_leaky_relu = ad.primitive(_leaky_relu_forward, name="leaky_relu")
_leaky_relu.defvjp(lambda g, ans, x, negative_slope: g * _slopes(x, negative_slope))


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope x otherwise."""
    return _leaky_relu(ad.as_constant(input), negative_slope=float(negative_slope))


def elu(input: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise (Clevert et al. 2016)."""
    x = ad.as_constant(input)
    return ad.where(x.data > 0, x, alpha * ad.expm1(ad.minimum(x, 0.0)))


def gelu(input: Any, approximate: str = "tanh") -> Tensor:
    """x Phi(x) with the tanh approximation of Hendrycks & Gimpel (2016, section 2),
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as in GPT-2. The exact erf form is not
    offered: the engine has no erf."""
    if approximate != "tanh":
        raise ValueError("gelu: only approximate='tanh' is available (the engine has no erf)")
    x = ad.as_constant(input)
    return 0.5 * x * (1.0 + ad.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


def silu(input: Any) -> Tensor:
    """x sigmoid(x), also called swish (Elfwing et al. 2018)."""
    x = ad.as_constant(input)
    return x * ad.sigmoid(x)


def softplus(input: Any, beta: float = 1.0) -> Tensor:
    """(1 / beta) log(1 + e^(beta x)), stable for large |x|."""
    x = ad.as_constant(input)
    return ad.softplus(x) if beta == 1.0 else ad.softplus(beta * x) / beta


def softmax(input: Any, dim: int = -1) -> Tensor:
    return ad.softmax(input, axis=dim)


def log_softmax(input: Any, dim: int = -1) -> Tensor:
    return ad.log_softmax(input, axis=dim)
