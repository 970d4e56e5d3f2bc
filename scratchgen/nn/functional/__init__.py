"""``scratchgen.nn.functional`` (conventionally ``F``): functions of tensors with PyTorch's
names and arguments, so that a student can hold the two side by side.

The convolutions and attention are the Numba kernels of ``kernels/`` bound as engine
primitives; the rest is composed of engine operations. Everything here is differentiable, to
any order.
"""

from scratchgen.nn.functional.activations import (
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from scratchgen.nn.functional.attention import scaled_dot_product_attention
from scratchgen.nn.functional.conv import conv1d, conv2d, conv_transpose2d
from scratchgen.nn.functional.linear import dropout, embedding, linear
from scratchgen.nn.functional.losses import cross_entropy
from scratchgen.nn.functional.normalization import group_norm, layer_norm
from scratchgen.nn.functional.resize import interpolate

__all__ = [
    "conv1d", "conv2d", "conv_transpose2d", "scaled_dot_product_attention",
    "linear", "embedding", "dropout", "layer_norm", "group_norm", "interpolate",
    "relu", "leaky_relu", "elu", "gelu", "silu", "softplus", "sigmoid", "tanh",
    "softmax", "log_softmax", "cross_entropy",
]  # fmt: skip
