"""MADE, the masked autoencoder for distribution estimation (Germain et al. 2015).

An MLP whose weights are multiplied by 0/1 masks so that output d sees only the inputs before
d in an ordering (the masks: ``scratchgen.nn.layers.masked_linear``). With ``num_masks`` > 1,
training draws one of several orderings and connectivities per batch (order- and
connectivity-agnostic training, section 4.1), and the likelihood is the ensemble
p(x) = 1/M sum_m p_m(x): a mixture of M normalised distributions, so exact and normalised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import BinaryAutoregressive
from scratchgen.models.base import register
from scratchgen.nn import Linear, ModuleList, made_masks
from scratchgen.settings import Size


@register("made", ("binary",), "MADE: masked MLP, order-agnostic training, mask ensembles")
class MADE(BinaryAutoregressive):
    def __init__(self, info: DataInfo, hidden: Sequence[Size] = (128, 128), num_masks: Size = 1,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, hidden=list(hidden), num_masks=num_masks, **hparams)
        d, rng = info.dims, np.random.default_rng(hparams.get("seed", 0))
        sizes = [d, *hidden, d]
        self.layers = ModuleList(
            Linear(a, b, rng=rng, dtype=self.dtype) for a, b in zip(sizes[:-1], sizes[1:])
        )
        orderings = [np.arange(d)] + [rng.permutation(d) for _ in range(num_masks - 1)]
        per_mask = [made_masks(d, hidden, rng, o) for o in orderings]
        for layer in range(len(sizes) - 1):
            self.register_buffer(
                f"masks_{layer}", np.stack([m[layer] for m in per_mask]).astype(self.dtype)
            )
        self.register_buffer("orderings", np.stack(orderings))
        self.active = 0  # which ordering and connectivity the conditionals use

    @property
    def ordering(self) -> np.ndarray:
        return self.orderings[self.active]

    def conditional_logits(self, x: Tensor) -> Tensor:
        h = x
        for index, layer in enumerate(self.layers):
            mask = getattr(self, f"masks_{index}")[self.active]
            h = h @ ad.transpose(layer.weight * mask) + layer.bias
            if index < len(self.layers) - 1:
                h = ad.relu(h)
        return h

    def _log_prob_with(self, x: Tensor, m: int) -> Tensor:
        self.active = m
        return super().log_prob(x)

    def loss(self, x: Any) -> Tensor:
        """Negative log-likelihood under one ordering drawn for this batch."""
        return -ad.mean(self._log_prob_with(x, int(self.rng.integers(len(self.orderings)))))

    def log_prob(self, x: Any) -> Tensor:
        """The ensemble, log (1/M) sum_m p_m(x)."""
        per_mask = [self._log_prob_with(x, m) for m in range(len(self.orderings))]
        return ad.logsumexp(ad.stack(per_mask, axis=1), axis=1) - np.log(len(per_mask))

    def sample(self, n: int, rng: np.random.Generator, given: Any = None,
               mask: Any = None) -> np.ndarray:  # fmt: skip
        """Draw each sample's mask from the ensemble, then sample in that mask's ordering
        (completion needs the natural ordering of mask 0, so it uses that mask alone)."""
        which = rng.integers(len(self.orderings), size=n) if given is None else np.zeros(n, int)
        out = np.empty((n,) + self.info.shape, dtype=self.dtype)
        for m in np.unique(which):
            self.active, rows = int(m), which == m
            part = None if given is None else np.broadcast_to(given, (n,) + self.info.shape)[rows]
            out[rows] = super().sample(int(rows.sum()), rng, part, mask)
        return out
