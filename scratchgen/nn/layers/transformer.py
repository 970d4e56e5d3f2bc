"""``TransformerBlock``: the pre-norm block of GPT-2 and most models since."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn.layers.activation import GELU
from scratchgen.nn.layers.attention import MultiheadAttention
from scratchgen.nn.layers.containers import Sequential
from scratchgen.nn.layers.dropout import Dropout
from scratchgen.nn.layers.linear import Linear
from scratchgen.nn.layers.normalization import LayerNorm
from scratchgen.nn.module import Module


class TransformerBlock(Module):
    """x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)), with the MLP d -> 4d -> d and GELU
    (pre-norm: Xiong et al. 2020 show it trains without warm-up tricks). ``causal=True`` makes
    it a decoder block; ``context`` gives cross-attention instead of self-attention."""

    def __init__(self, d_model: int, n_head: int, mlp_ratio: int = 4, dropout: float = 0.0,
                 causal: bool = False, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.causal = causal
        self.ln_1 = LayerNorm(d_model, dtype=dtype)
        self.attn = MultiheadAttention(d_model, n_head, rng=rng, dtype=dtype)
        self.ln_2 = LayerNorm(d_model, dtype=dtype)
        self.mlp = Sequential(
            Linear(d_model, mlp_ratio * d_model, rng=rng, dtype=dtype), GELU(),
            Linear(mlp_ratio * d_model, d_model, rng=rng, dtype=dtype),
            Dropout(dropout, rng=rng),
        )  # fmt: skip

    def forward(self, x: Any, context: Any = None, attn_mask: Any = None,
                cache: dict | None = None) -> Tensor:  # fmt: skip
        """``cache``: see ``MultiheadAttention.forward`` (incremental decoding)."""
        h = self.ln_1(x)
        x = x + self.attn(h, context, attn_mask=attn_mask, is_causal=self.causal, cache=cache)
        return x + self.mlp(self.ln_2(x))
