"""``TextEncoder``: a small bidirectional Transformer over word tokens, the caption encoder of a
text-to-image model (Imagen and Stable Diffusion use a frozen pretrained one; ours is small
and trained jointly with the denoiser, as in GLIDE, Nichol et al. 2022, section 2.3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor
from scratchgen.nn.layers.containers import ModuleList
from scratchgen.nn.layers.embedding import Embedding
from scratchgen.nn.layers.normalization import LayerNorm
from scratchgen.nn.layers.transformer import TransformerBlock
from scratchgen.nn.module import Module


class TextEncoder(Module):
    """tokens (N, L) of a vocabulary of ``vocab_size`` words, ``pad`` marking the absent ones,
    to one vector per token (N, L, d_model):

        h^0 = E[tokens] + P[0..L),   h^k = block_k(h^(k-1)),   out = LayerNorm(h^K)

    with learned token (E) and position (P) embeddings and ``num_layers`` pre-norm Transformer
    blocks whose self-attention sees only the tokens present (no causal mask: every word reads
    the whole caption, as "red" must reach "circle"). The rows at padding positions are
    computed but mean nothing: pass ``tokens != pad`` on as the context mask."""

    def __init__(self, vocab_size: int, d_model: int, num_layers: int, num_heads: int,
                 max_len: int, pad: int = 0, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.pad, self.max_len = pad, max_len
        self.token = Embedding(vocab_size, d_model, rng=rng, dtype=dtype)
        self.position = Embedding(max_len, d_model, rng=rng, dtype=dtype)
        self.blocks = ModuleList([TransformerBlock(d_model, num_heads, rng=rng, dtype=dtype)
                                  for _ in range(num_layers)])  # fmt: skip
        self.norm = LayerNorm(d_model, dtype=dtype)

    def forward(self, tokens: Any) -> Tensor:
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] > self.max_len:
            raise ValueError(f"TextEncoder: expected tokens (N, L <= {self.max_len}), got "
                             f"{tokens.shape}")  # fmt: skip
        present = tokens != self.pad
        h = self.token(tokens) + self.position(np.arange(tokens.shape[1]))
        for block in self.blocks:  # attention from every position to the tokens present
            h = block(h, attn_mask=present[:, None, None, :])
        return self.norm(h)
