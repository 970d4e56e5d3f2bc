"""Activation functions with PyTorch's names (``dim`` for the softmax axis)."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from kernels.activations import activation as _kernel
from kernels.activations import activation_grad as _kernel_grad

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


# GELU and SiLU are one primitive each, with a fused backward primitive as tanh has
# (autodiff.elementwise): composed of engine operations, GELU was 9 primitives forward and
# 14 backward. Their derivatives are written once for both array types: ``xp`` is numpy
# (on float64 arrays) or autodiff (on tensors, where the backward's own VJPs need the next
# derivative as a differentiable function of x). On float32 arrays the forward and the first
# VJP are one pass of ``kernels.activations`` each.
_GELU_A = 0.044715


def _gelu_forward(x: np.ndarray) -> np.ndarray:
    c, a, half = (x.dtype.type(v) for v in (_SQRT_2_OVER_PI, _GELU_A, 0.5))
    return half * x * (1 + np.tanh(c * (x + a * x * x * x)))


# GELU's derivatives. With u = c (x + a x^3), t = tanh u, u' = c (1 + 3 a x^2), u'' = 6 a c x:
#     y'  = (1 + t + x (1 - t^2) u') / 2,
#     y'' = (1 - t^2) (u' + x (u'' - 2 t u'^2) / 2).
def _gelu_tanh(xp: Any, x: Any) -> tuple[Any, Any]:
    """(t, u')"""
    c, a = _SQRT_2_OVER_PI, _GELU_A
    x2 = x * x
    return xp.tanh(c * x * (1 + a * x2)), c * (1 + 3 * a * x2)


def _gelu_slope(xp: Any, x: Any) -> Any:
    t, du = _gelu_tanh(xp, x)
    return 0.5 * (1 + t + x * (1 - t * t) * du)


def _gelu_curvature(xp: Any, x: Any) -> Any:
    t, du = _gelu_tanh(xp, x)
    d2u = 6 * _GELU_A * _SQRT_2_OVER_PI * x
    return (1 - t * t) * (du + 0.5 * x * (d2u - 2 * t * du * du))


def _sigmoid(xp: Any, x: Any) -> Any:
    return 0.5 + 0.5 * xp.tanh(0.5 * x)  # an identity of sigmoid that never overflows


# SiLU's derivatives, with s = sigmoid(x):
#     y' = s (1 + x (1 - s)),   y'' = s (1 - s) (2 + x (1 - 2 s)).
def _silu_slope(xp: Any, x: Any) -> Any:
    s = _sigmoid(xp, x)
    return s * (1 + x * (1 - s))


def _silu_curvature(xp: Any, x: Any) -> Any:
    s = _sigmoid(xp, x)
    return s * (1 - s) * (2 + x * (1 - 2 * s))


def _activation(name: str, forward: Any, slope: Any, curvature: Any) -> Any:
    """A primitive y = f(x) whose VJP g f'(x) is a primitive of its own, whose VJPs are
    d/dg = f'(x) and d/dx = g f''(x) in engine operations (so every order works)."""

    def fused(x: np.ndarray) -> np.ndarray:
        return _kernel(name, x) if x.dtype == np.float32 else forward(x)

    def fused_vjp(g: np.ndarray, x: np.ndarray) -> np.ndarray:
        if x.dtype == np.float32 and g.dtype == np.float32:
            return _kernel_grad(name, x, g)
        return g * slope(np, x)

    backward = ad.primitive(fused_vjp, name=f"{name}_backward")
    backward.defvjp(lambda gg, ans, g, x: gg * slope(ad, x),
                    lambda gg, ans, g, x: gg * g * curvature(ad, x))  # fmt: skip
    function = ad.primitive(fused, name=name)
    return function.defvjp(lambda g, ans, x: backward(g, x))


_gelu = _activation("gelu", _gelu_forward, _gelu_slope, _gelu_curvature)
_silu = _activation("silu", lambda x: x * _sigmoid(np, x), _silu_slope, _silu_curvature)


def gelu(input: Any, approximate: str = "tanh") -> Tensor:
    """x Phi(x) with the tanh approximation of Hendrycks & Gimpel (2016, section 2),
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as in GPT-2. The exact erf form is not
    offered: the engine has no erf."""
    if approximate != "tanh":
        raise ValueError("gelu: only approximate='tanh' is available (the engine has no erf)")
    return _gelu(ad.as_constant(input))


def silu(input: Any) -> Tensor:
    """x sigmoid(x), also called swish (Elfwing et al. 2018)."""
    return _silu(ad.as_constant(input))


def softplus(input: Any, beta: float = 1.0) -> Tensor:
    """(1 / beta) log(1 + e^(beta x)), stable for large |x|."""
    x = ad.as_constant(input)
    return ad.softplus(x) if beta == 1.0 else ad.softplus(beta * x) / beta


def softmax(input: Any, dim: int = -1) -> Tensor:
    return ad.softmax(input, axis=dim)


def log_softmax(input: Any, dim: int = -1) -> Tensor:
    return ad.log_softmax(input, axis=dim)
