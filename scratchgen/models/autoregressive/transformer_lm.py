"""A GPT-style character Transformer (Radford et al. 2019; the pre-norm block of nanoGPT).

    p(x_1..x_T) = prod_t softmax(head(h_t))[x_t],   h = blocks(embed(BOS, x_1..x_{T-1}) + pos)

A start token (index V, one past the vocabulary) is prepended, so the first character has a
distribution too and log p(x) covers the whole window exactly. Causal self-attention runs on
the attention kernel. Sampling keeps every layer's keys and values (the KV cache): each new
character costs one position's work, not a pass over the whole prefix. Sampling filters:
temperature, top-k, and nucleus (top-p, Holtzman et al. 2020: the smallest set of characters
whose probability reaches p).

Symbols: V vocabulary size, T block size, d model width.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import prompt_start
from scratchgen.models.base import GenerativeModel, register
from scratchgen.nn import Embedding, LayerNorm, Linear, ModuleList, TransformerBlock
from scratchgen.nn import functional as F
from scratchgen.nn.layers.embedding import sinusoidal_embedding
from scratchgen.settings import Layers, Size


@register("transformer", ("categorical",), "character Transformer (GPT-style), KV-cache sampling")
class TransformerLM(GenerativeModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, d_model: Size = 64, n_head: Size = 4, n_layer: Layers = 2,
                 positions: Literal["learned", "sinusoidal"] = "learned",
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, d_model=d_model, n_head=n_head, n_layer=n_layer,
                         positions=positions, **hparams)  # fmt: skip
        if len(info.shape) != 1:
            raise ValueError(
                f"the Transformer models sequences (T,), not examples of shape {info.shape}"
            )
        rng = np.random.default_rng(hparams.get("seed", 0))
        self.V, self.T = info.levels, info.shape[0]
        self.token = Embedding(self.V + 1, d_model, rng=rng, dtype=self.dtype)  # + start token
        if positions == "learned":
            self.position = Embedding(self.T, d_model, rng=rng, dtype=self.dtype)
        self.blocks = ModuleList(
            TransformerBlock(d_model, n_head, causal=True, rng=rng, dtype=self.dtype)
            for _ in range(n_layer)
        )
        self.ln_f = LayerNorm(d_model, dtype=self.dtype)
        self.head = Linear(d_model, self.V, rng=rng, dtype=self.dtype)

    def _positions(self, start: int, length: int) -> Tensor:
        index = np.arange(start, start + length)
        if self.hparams["positions"] == "learned":
            return self.position(index)
        return sinusoidal_embedding(index, self.token.weight.shape[1], dtype=self.dtype)

    def logits(self, inputs: np.ndarray, start: int = 0, caches: list | None = None) -> Tensor:
        """(n, t, V) next-character logits for input tokens (n, t) at positions start.."""
        h = self.token(inputs) + self._positions(start, inputs.shape[1])
        for index, block in enumerate(self.blocks):
            h = block(h, cache=None if caches is None else caches[index])
        return self.head(self.ln_f(h))

    def _shifted(self, x: np.ndarray) -> np.ndarray:
        """(BOS, x_1, ..., x_{T-1}): position t predicts x_{t+1} from what precedes it."""
        bos = np.full((len(x), 1), self.V, dtype=np.int64)
        return np.concatenate([bos, x[:, :-1].astype(np.int64)], axis=1)

    def log_prob(self, x: Any) -> Tensor:
        x = np.asarray(x.data if isinstance(x, Tensor) else x)
        self.as_input(x)  # shape check
        nll = F.cross_entropy(self.logits(self._shifted(x)), x, reduction="none", dim=-1)
        return -ad.sum(nll, axis=1)

    def sample(self, n: int, rng: np.random.Generator, given: Any = None, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None,
               use_cache: bool = True) -> np.ndarray:  # fmt: skip
        """n sequences of length T; ``given`` (t0,) or (n, t0) tokens are kept as a prompt and
        continued. ``use_cache=False`` recomputes the whole prefix at each step (the slow
        reference the cache is tested against)."""
        out, start = prompt_start(n, self.T, given)
        caches = [{} for _ in self.blocks] if use_cache else None
        with ad.no_grad():
            inputs = np.concatenate([np.full((n, 1), self.V), out[:, :start]], axis=1)
            fed = 0  # positions already in the caches
            for t in range(start, self.T):
                if use_cache:
                    logits = self.logits(inputs[:, fed:], fed, caches).data[:, -1]
                    fed = inputs.shape[1]
                else:
                    logits = self.logits(inputs).data[:, -1]
                out[:, t] = _draw(logits, rng, temperature, top_k, top_p)
                inputs = np.concatenate([inputs, out[:, t : t + 1]], axis=1)
        return out


def _draw(logits: np.ndarray, rng: np.random.Generator, temperature: float,
          top_k: int | None, top_p: float | None) -> np.ndarray:  # fmt: skip
    """One token per row from softmax(logits / temperature), restricted to the top_k most
    likely and to the nucleus of mass top_p, by inverting the CDF with one uniform per row."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z = logits.astype(np.float64) / temperature
    if top_k is not None:
        kth = np.sort(z, axis=1)[:, -min(top_k, z.shape[1])][:, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    if top_p is not None:
        order = np.argsort(-p, axis=1)
        sorted_p = np.take_along_axis(p, order, axis=1)
        keep_sorted = np.cumsum(sorted_p, axis=1) - sorted_p < top_p  # mass before it < p
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=1)
        p = np.where(keep, p, 0.0)
        p /= p.sum(axis=1, keepdims=True)
    u = rng.random((len(p), 1))
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)
