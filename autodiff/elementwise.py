"""Elementwise operations and their derivatives.

The table below reads like a table of derivatives: for y = f(x), each VJP returns
g * dy/dx written with Tensor operations (``ans`` is y itself, reused where the derivative is
a function of the output, as for exp, tanh and sigmoid). Binary operations broadcast, and the
engine sums their gradients back to each input's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autodiff.primitive import as_constant, primitive
from autodiff.tensor import Tensor

# ---------------------------------------------------------------- arithmetic (broadcasting)
add = primitive(np.add, name="add", broadcasting=True)
add.defvjp(lambda g, ans, x, y: g,
           lambda g, ans, x, y: g)  # fmt: skip

subtract = primitive(np.subtract, name="subtract", broadcasting=True)
subtract.defvjp(lambda g, ans, x, y: g,
                lambda g, ans, x, y: -g)  # fmt: skip

multiply = primitive(np.multiply, name="multiply", broadcasting=True)
multiply.defvjp(lambda g, ans, x, y: g * y,
                lambda g, ans, x, y: g * x)  # fmt: skip

divide = primitive(np.true_divide, name="divide", broadcasting=True)
divide.defvjp(lambda g, ans, x, y: g / y,
              lambda g, ans, x, y: -g * ans / y)  # fmt: skip

# d(x^y)/dx = y x^(y-1);  d(x^y)/dy = x^y log x  (defined for x > 0)
power = primitive(np.power, name="power", broadcasting=True)
power.defvjp(lambda g, ans, x, y: g * y * x ** (y - 1),
             lambda g, ans, x, y: g * ans * log(x))  # fmt: skip

negative = primitive(np.negative, name="negative")
negative.defvjp(lambda g, ans, x: -g)

# ---------------------------------------------------------------- unary math
exp = primitive(np.exp, name="exp")
exp.defvjp(lambda g, ans, x: g * ans)

log = primitive(np.log, name="log")
log.defvjp(lambda g, ans, x: g / x)

log1p = primitive(np.log1p, name="log1p")
log1p.defvjp(lambda g, ans, x: g / (1 + x))

expm1 = primitive(np.expm1, name="expm1")
expm1.defvjp(lambda g, ans, x: g * (ans + 1))

sqrt = primitive(np.sqrt, name="sqrt")
sqrt.defvjp(lambda g, ans, x: g * 0.5 / ans)

abs = primitive(np.abs, name="abs")  # noqa: A001 (the engine speaks NumPy: autodiff.abs)
abs.defvjp(lambda g, ans, x: g * np.sign(x.data))

sin = primitive(np.sin, name="sin")
sin.defvjp(lambda g, ans, x: g * cos(x))

cos = primitive(np.cos, name="cos")
cos.defvjp(lambda g, ans, x: -g * sin(x))

# The activations' VJPs are fused into one primitive each, as PyTorch's tanh_backward is, so a
# first-order backward costs one call instead of three; each fused VJP has its own VJP, so
# gradients of gradients still work:  d/dg [g (1 - y^2)] = 1 - y^2,  d/dy [g (1 - y^2)] = -2 g y.
tanh_backward = primitive(lambda g, y: g * (1 - y * y), name="tanh_backward", broadcasting=True)
tanh_backward.defvjp(lambda gg, ans, g, y: gg * (1 - y * y),
                     lambda gg, ans, g, y: -2 * gg * g * y)  # fmt: skip

tanh = primitive(np.tanh, name="tanh")
tanh.defvjp(lambda g, ans, x: tanh_backward(g, ans))


def _sigmoid_forward(x: np.ndarray) -> np.ndarray:
    # exp(-|x|) never overflows; the two branches are the same function written two ways.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# d/dg [g y (1 - y)] = y (1 - y),  d/dy [g y (1 - y)] = g (1 - 2y)
sigmoid_backward = primitive(
    lambda g, y: g * y * (1 - y), name="sigmoid_backward", broadcasting=True
)
sigmoid_backward.defvjp(lambda gg, ans, g, y: gg * y * (1 - y),
                        lambda gg, ans, g, y: gg * g * (1 - 2 * y))  # fmt: skip

sigmoid = primitive(_sigmoid_forward, name="sigmoid")
sigmoid.defvjp(lambda g, ans, x: sigmoid_backward(g, ans))

relu = primitive(lambda x: np.maximum(x, 0), name="relu")
relu.defvjp(lambda g, ans, x: g * (x.data > 0))

# softplus(x) = log(1 + e^x), computed as logaddexp(0, x) so that it never overflows.
softplus = primitive(lambda x: np.logaddexp(0, x), name="softplus")
softplus.defvjp(lambda g, ans, x: g * sigmoid(x))


def log_sigmoid(x: Any) -> Tensor:
    """log sigmoid(x) = -softplus(-x), stable for large |x|."""
    return -softplus(-as_constant(x))


# ---------------------------------------------------------------- piecewise
def _larger_share(x: Tensor, y: Tensor) -> np.ndarray:
    """Where x wins max(x, y) its gradient share is 1; at ties the two inputs split it evenly."""
    return np.where(x.data > y.data, 1.0, np.where(x.data == y.data, 0.5, 0.0)).astype(
        np.result_type(x.data, y.data)
    )


maximum = primitive(np.maximum, name="maximum", broadcasting=True)
maximum.defvjp(lambda g, ans, x, y: g * _larger_share(x, y),
               lambda g, ans, x, y: g * _larger_share(y, x))  # fmt: skip

minimum = primitive(np.minimum, name="minimum", broadcasting=True)
minimum.defvjp(lambda g, ans, x, y: g * _larger_share(y, x),
               lambda g, ans, x, y: g * _larger_share(x, y))  # fmt: skip

_where = primitive(lambda x, y, condition: np.where(condition, x, y), name="where",
                   broadcasting=True)  # fmt: skip
_where.defvjp(lambda g, ans, x, y, condition: _where(g, 0, condition=condition),
              lambda g, ans, x, y, condition: _where(0, g, condition=condition))  # fmt: skip


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where ``condition`` holds, else y (broadcast together); ``condition`` has no gradient."""
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if condition.dtype != np.bool_:
        condition = condition.astype(bool)
    if not isinstance(x, Tensor) and isinstance(y, Tensor):
        x = as_constant(x, y)
    return _where(x, y, condition=condition)


def _inside(x: np.ndarray, a_min: Any, a_max: Any) -> np.ndarray:
    mask = np.ones(x.shape, dtype=bool)
    if a_min is not None:
        mask &= x >= a_min
    if a_max is not None:
        mask &= x <= a_max
    return mask


_clip = primitive(lambda x, a_min, a_max: np.clip(x, a_min, a_max), name="clip")
_clip.defvjp(lambda g, ans, x, a_min, a_max: g * _inside(x.data, a_min, a_max))


def clip(x: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """Limit x to [a_min, a_max] (either may be None); the gradient is zero where clipped."""
    if a_min is None and a_max is None:
        raise ValueError("clip: give a_min, a_max or both")
    return _clip(x, a_min=a_min, a_max=a_max)


_astype = primitive(lambda x, dtype: x.astype(dtype, copy=False), name="astype")
_astype.defvjp(lambda g, ans, x, dtype: _astype(g, dtype=x.dtype))


def astype(x: Any, dtype: Any) -> Tensor:
    """Cast to ``dtype``; the gradient is cast back to the input's dtype."""
    x = as_constant(x)
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return _astype(x, dtype=dtype)


def compare(ufunc: Callable[..., np.ndarray], x: Any, y: Any) -> Tensor:
    """A boolean tensor outside the graph: comparisons have no useful derivative."""
    x_data = x.data if isinstance(x, Tensor) else x
    y_data = y.data if isinstance(y, Tensor) else y
    return Tensor._wrap(np.asarray(ufunc(x_data, y_data)))
