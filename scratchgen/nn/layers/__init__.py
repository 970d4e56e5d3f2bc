"""The layers of ``scratchgen.nn``, one idea per module."""

from scratchgen.nn.layers.activation import (
    ELU,
    GELU,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)
from scratchgen.nn.layers.attention import MultiheadAttention
from scratchgen.nn.layers.class_embedding import ClassEmbedding
from scratchgen.nn.layers.containers import ModuleList, Sequential
from scratchgen.nn.layers.conv import CausalConv1d, Conv2d, ConvTranspose2d
from scratchgen.nn.layers.dropout import Dropout
from scratchgen.nn.layers.embedding import Embedding, SinusoidalEmbedding, sinusoidal_embedding
from scratchgen.nn.layers.linear import Linear
from scratchgen.nn.layers.masked_conv import MaskedConv2d, pixelcnn_mask
from scratchgen.nn.layers.masked_linear import MaskedLinear, made_masks
from scratchgen.nn.layers.mlp import MLP
from scratchgen.nn.layers.normalization import GroupNorm, LayerNorm
from scratchgen.nn.layers.residual import Residual, ResidualBlock
from scratchgen.nn.layers.spectral_norm import SpectralNorm
from scratchgen.nn.layers.text_encoder import TextEncoder
from scratchgen.nn.layers.transformer import TransformerBlock

__all__ = [
    "Linear", "Conv2d", "ConvTranspose2d", "CausalConv1d", "MaskedConv2d", "pixelcnn_mask",
    "Embedding", "ClassEmbedding", "SinusoidalEmbedding", "sinusoidal_embedding", "LayerNorm",
    "GroupNorm",
    "Dropout", "MultiheadAttention", "TransformerBlock", "TextEncoder", "Sequential",
    "ModuleList", "MLP",
    "Residual", "ResidualBlock", "MaskedLinear", "made_masks", "SpectralNorm",
    "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Tanh", "Sigmoid",
]  # fmt: skip
