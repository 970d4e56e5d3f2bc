"""autodiff: reverse-mode automatic differentiation on NumPy arrays, to any order.

    import autodiff as ad

    x = ad.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (g,) = ad.grad(y, x, create_graph=True)   # 2x, itself differentiable
    g.sum().backward()                         # x.grad = 2

The engine speaks NumPy: functions take ``axis``, ``keepdims`` and ``axes``, and follow NumPy's
broadcasting and dtype rules (a Python scalar never upcasts a float32 tensor). Every operation
is a ``Primitive`` whose gradient is written with the engine's own operations; see
``autodiff.primitive`` to add one.
"""

# isort: off
# tensor must load first: it imports the operator modules at its end, and they need Tensor.
from autodiff.tensor import Tensor

# isort: on
from autodiff.backward import backward, grad
from autodiff.check import GradcheckError, gradcheck, gradgradcheck
from autodiff.elementwise import (
    abs,
    add,
    astype,
    clip,
    cos,
    divide,
    exp,
    expm1,
    log,
    log1p,
    log_sigmoid,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    relu,
    sigmoid,
    sin,
    softplus,
    sqrt,
    subtract,
    tanh,
    where,
)
from autodiff.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from autodiff.graphviz import GraphNode, graph_nodes, to_dot
from autodiff.indexing import getitem, one_hot, take_along_axis
from autodiff.linalg import cholesky, inv, matmul, slogdet, solve, triangular_solve
from autodiff.primitive import Primitive, as_constant, primitive
from autodiff.reductions import (
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    sum,
    sum_to,
    var,
)
from autodiff.shape import (
    broadcast_to,
    concatenate,
    expand,
    flip,
    pad,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)

__all__ = [
    "Tensor", "Primitive", "primitive", "as_constant",
    "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "gradcheck", "gradgradcheck", "GradcheckError", "to_dot", "graph_nodes", "GraphNode",
    "add", "subtract", "multiply", "divide", "power", "negative", "matmul",
    "exp", "log", "log1p", "expm1", "sqrt", "abs", "tanh", "sigmoid", "relu", "softplus",
    "log_sigmoid", "sin", "cos", "maximum", "minimum", "where", "clip", "astype",
    "sum", "mean", "var", "max", "min", "logsumexp", "softmax", "log_softmax", "cumsum", "sum_to",
    "reshape", "transpose", "swapaxes", "expand", "broadcast_to", "squeeze", "unsqueeze",
    "concatenate", "stack", "pad", "flip",
    "getitem", "take_along_axis", "one_hot",
    "slogdet", "inv", "solve", "cholesky", "triangular_solve",
]  # fmt: skip
