"""``MultiheadAttention``: self- and cross-attention over (batch, length, embed) inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn import functional as F
from scratchgen.nn.layers.linear import Linear
from scratchgen.nn.module import Module


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads (Vaswani et al. 2017, section 3.2.2):

        head_h = softmax(Q_h K_h^T / sqrt(d) + mask) V_h,  Q_h = x W_q^h, K_h = c W_k^h, ...
        out = concat(head_1, ..., head_H) W_o

    Inputs are batch-first, (N, L, E). ``forward(x)`` is self-attention, ``forward(x, context)``
    cross-attention. Unlike ``torch.nn.MultiheadAttention`` it returns only the output (the
    fused kernel never forms the weights), and ``attn_mask`` follows
    ``F.scaled_dot_product_attention``: True where attention is allowed, broadcast to
    (N, heads, L, S).
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True,
                 kdim: int | None = None, vdim: int | None = None, *,
                 rng: np.random.Generator, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.q_proj = Linear(embed_dim, embed_dim, bias, rng=rng, dtype=dtype)
        self.k_proj = Linear(kdim or embed_dim, embed_dim, bias, rng=rng, dtype=dtype)
        self.v_proj = Linear(vdim or embed_dim, embed_dim, bias, rng=rng, dtype=dtype)
        self.out_proj = Linear(embed_dim, embed_dim, bias, rng=rng, dtype=dtype)

    def _heads(self, t: Tensor) -> Tensor:
        n, length, _ = t.shape  # (N, L, E) -> (N, heads, L, E / heads)
        return ad.transpose(ad.reshape(t, (n, length, self.num_heads, -1)), (0, 2, 1, 3))

    def forward(self, x: Any, context: Any = None, attn_mask: Any = None,
                is_causal: bool = False, cache: dict | None = None) -> Tensor:  # fmt: skip
        """``cache`` (a dict, for incremental decoding of self-attention): the keys and values of
        earlier positions are kept in it and extended by this call's; the new queries, at
        positions P..P+t-1, attend to keys 0..P+t-1."""
        x = ad.as_constant(x)
        context = x if context is None else ad.as_constant(context)
        if x.ndim != 3 or context.ndim != 3:
            raise ValueError(
                f"MultiheadAttention: expected (batch, length, embed) inputs, got {x.shape} "
                f"and {context.shape}"
            )
        q = self._heads(self.q_proj(x))
        k, v = self._heads(self.k_proj(context)), self._heads(self.v_proj(context))
        if cache is not None:
            past = cache["k"].shape[2] if "k" in cache else 0
            if past:
                k = ad.concatenate([cache["k"], k], axis=2)
                v = ad.concatenate([cache["v"], v], axis=2)
            cache["k"], cache["v"] = k, v
            if is_causal:  # query i (absolute position past + i) sees keys up to past + i
                t = q.shape[2]
                attn_mask = np.arange(past + t)[None, :] <= (past + np.arange(t))[:, None]
                is_causal = False
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        n, _, length, _ = out.shape  # (N, heads, L, d) -> (N, L, E)
        return self.out_proj(ad.reshape(ad.transpose(out, (0, 2, 1, 3)), (n, length, -1)))

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
