"""What the discrete diffusion models share: a bidirectional Transformer over the noised
sequence x_t (its S token types, the mask among them) that also reads the time t, and returns
(n, L, V) numbers per position, one per data token: the denoiser's logits (D3PM, MDLM) or the
log concrete score (SEDD). Sampling takes prefix prompts and infilling.

    h = blocks(embed(x_t) + position + time(t)),    out = head(ln(h)),

time(t) a linear map of the sinusoidal features of 1000 t (``TIME_SCALE``, as for the image
diffusion models). The blocks attend in both directions (no causal mask): every position sees
the whole noised sequence. ``log_prob`` is minus the model's bound, a lower bound on log p(x)
estimated with the randomness of ``evaluation_rng`` (a fixed seed, so that two evaluations of
one model agree).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.discrete_diffusion import Graph, x0_ancestral
from scratchgen.models.base import GenerativeModel, UnsupportedData
from scratchgen.models.diffusion.base import TIME_SCALE
from scratchgen.nn import Embedding, LayerNorm, Linear, ModuleList, TransformerBlock
from scratchgen.nn.layers.embedding import sinusoidal_embedding
from scratchgen.settings import Layers, Size


class DiscreteDiffusion(GenerativeModel):
    """The shared settings: ``d_model``, ``n_head``, ``n_layer`` of the Transformer and
    ``sample_steps``, the sampler's number of steps. Subclasses build ``self.graph`` before the
    network (it sets S)."""

    has_bound = True
    likelihood_in_training = False  # the bound costs many passes: ``scratchgen eval``

    def __init__(self, info: DataInfo, d_model: Size = 64, n_head: Size = 4, n_layer: Layers = 2,
                 sample_steps: Size = 100, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, d_model=d_model, n_head=n_head, n_layer=n_layer,
                         sample_steps=sample_steps,
                         **hparams)  # fmt: skip
        name = self.registered_name
        if info.kind != "categorical" or len(info.shape) != 1:
            raise UnsupportedData(f"{name} models token sequences (categorical, shape (L,)), "
                                  f"not {info.kind} data of shape {info.shape}")  # fmt: skip
        if d_model % n_head or d_model % 2:
            raise ValueError(f"{name}: d_model ({d_model}) must be even and a multiple of "
                             f"n_head ({n_head})")  # fmt: skip
        self.graph = self.make_graph(info.levels)
        self.L, self.V = info.shape[0], info.levels
        rng = np.random.default_rng([self.hparams["seed"], 22])
        self.token = Embedding(self.graph.S, d_model, rng=rng, dtype=self.dtype)
        self.position = Embedding(self.L, d_model, rng=rng, dtype=self.dtype)
        self.time = Linear(d_model, d_model, rng=rng, dtype=self.dtype)
        self.blocks = ModuleList(
            TransformerBlock(d_model, n_head, causal=False, rng=rng, dtype=self.dtype)
            for _ in range(n_layer)
        )
        self.ln_f = LayerNorm(d_model, dtype=self.dtype)
        self.head = Linear(d_model, self.V, rng=rng, dtype=self.dtype)

    def make_graph(self, vocab: int) -> Graph:
        raise NotImplementedError

    def network(self, x_t: np.ndarray, t: np.ndarray) -> Tensor:
        """(n, L, V) outputs for noised tokens x_t (n, L) at times t (n,)."""
        width = self.token.weight.shape[1]
        features = sinusoidal_embedding(TIME_SCALE * np.asarray(t), width, dtype=self.dtype)
        h = (
            self.token(x_t)
            + self.position(np.arange(self.L))
            + ad.unsqueeze(self.time(features), 1)
        )
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln_f(h))

    def tokens(self, x: Any) -> np.ndarray:
        """A batch as int64 data tokens, shape- and range-checked in one line."""
        array = np.asarray(x.data if isinstance(x, Tensor) else x)
        self.as_input(array)
        return self.graph.check_tokens(array, self.registered_name)

    def evaluation_rng(self) -> np.random.Generator:
        return np.random.default_rng([self.hparams["seed"], 2024])

    def sample(self, n: int, rng: np.random.Generator, given: Any = None, mask: Any = None,
               steps: int | None = None, return_trajectory: bool = False) -> Any:  # fmt: skip
        """n sequences (n, L) from ``steps`` reverse steps (default: ``sample_steps``). ``given``
        alone, (t0,) or (n, t0) tokens, is a prompt kept in front; with ``mask`` ((L,) or (n, L)
        booleans, True = observed) ``given`` holds whole sequences whose observed tokens are
        kept (infilling)."""
        given, known = self._condition(n, given, mask)
        with ad.no_grad():
            return self.reverse(n, rng, steps or int(self.hparams["sample_steps"]), given, known,
                                return_trajectory)  # fmt: skip

    def _condition(self, n: int, given: Any, mask: Any) -> tuple[Any, Any]:
        name = self.registered_name
        if given is None:
            if mask is not None:
                raise ValueError(f"{name}: a mask needs the given tokens it marks")
            return None, None
        given = self.graph.check_tokens(given, name)
        if mask is None:  # a prompt
            if given.shape[-1] > self.L:
                raise ValueError(f"{name}: a prompt of {given.shape[-1]} tokens is longer "
                                 f"than the sequences ({self.L})")  # fmt: skip
            prompt = np.broadcast_to(given, (n, given.shape[-1]))
            full = np.zeros((n, self.L), dtype=np.int64)
            full[:, : prompt.shape[1]] = prompt
            known = np.zeros(self.L, dtype=bool)
            known[: prompt.shape[1]] = True
            return full, known
        mask = np.asarray(mask, dtype=bool)
        if given.shape[-1] != self.L or mask.shape[-1] != self.L:
            raise ValueError(f"{name}: given and mask must cover all {self.L} positions")
        return np.broadcast_to(given, (n, self.L)), np.broadcast_to(mask, (n, self.L))

    def log_p0(self, x_t: np.ndarray, t: np.ndarray) -> Tensor:
        """log p_theta(x_0^l = v | x_t), (n, L, V): the outputs read as a denoiser's logits."""
        return ad.log_softmax(self.network(x_t, t), axis=-1)

    def denoiser(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.exp(self.log_p0(x_t, t).data.astype(np.float64))

    def reverse(self, n: int, rng: np.random.Generator, steps: int, given: Any, known: Any,
                return_trajectory: bool) -> Any:  # fmt: skip
        """The x_0-parametrised reverse chain (``x0_ancestral``); a score model overrides it."""
        return x0_ancestral(self.graph, self.denoiser, (n, self.L), rng, steps, given, known,
                            return_trajectory)  # fmt: skip

    def stratified_times(self, n: int, rng: np.random.Generator, low: float) -> np.ndarray:
        """n times in [low, 1): one per stratum of equal width, in random order (the
        low-discrepancy draw of Sahoo et al. 2024, section 3.5: each is uniform, and together
        they cover the interval evenly, which lowers the variance of a batch's mean)."""
        u = (rng.permutation(n) + rng.random(n)) / n
        return low + (1.0 - low) * u
