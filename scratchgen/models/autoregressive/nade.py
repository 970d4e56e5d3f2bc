"""NADE, the neural autoregressive distribution estimator (Larochelle & Murray 2011, eq. 3-4).

One hidden layer shared by all the conditionals:

    h_i = sigmoid(c + W_{:, <i} x_{<i}),     p(x_i = 1 | x_<i) = sigmoid(b_i + V_i . h_i)

The pre-activation a_i = c + sum_{j<i} W_{:, j} x_j is a running sum: a_{i+1} = a_i + W_{:, i} x_i.
Training computes all D of them at once as an exclusive cumulative sum (O(n D H) memory);
sampling walks the running sum, O(D H) work per sample instead of O(D^2 H).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit  # sigmoid without overflow

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import BinaryAutoregressive, completion_start
from scratchgen.models.base import register
from scratchgen.nn import Parameter, init


@register("nade", ("binary",), "NADE: one hidden layer shared across conditionals", hidden=64)
class NADE(BinaryAutoregressive):
    def __init__(self, info: DataInfo, hidden: int = 64, **hparams: Any) -> None:
        super().__init__(info, hidden=hidden, **hparams)
        d, rng = info.dims, np.random.default_rng(hparams.get("seed", 0))
        self.W = Parameter(init.normal(rng, (hidden, d), 1 / np.sqrt(d), self.dtype))
        self.c = Parameter(np.zeros(hidden), dtype=self.dtype)
        self.V = Parameter(init.normal(rng, (d, hidden), 1 / np.sqrt(hidden), self.dtype))
        self.b = Parameter(np.zeros(d), dtype=self.dtype)

    def conditional_logits(self, x: Tensor) -> Tensor:
        contributions = ad.unsqueeze(x, 2) * ad.transpose(self.W)  # (n, D, H): x_j W_{:, j}
        a = self.c + ad.cumsum(contributions, axis=1) - contributions  # exclusive running sum
        return ad.sum(self.V * ad.sigmoid(a), axis=2) + self.b

    def sample(self, n: int, rng: np.random.Generator, given: Any = None,
               mask: Any = None) -> np.ndarray:  # fmt: skip
        """Walk the running sum: O(D H) per sample. Observed values (``given`` where ``mask``)
        are kept and added to the sum like drawn ones."""
        W, c, V, b = (p.data for p in (self.W, self.c, self.V, self.b))
        x, observed = completion_start(self, n, given, mask)
        a = np.broadcast_to(c, (n, len(c))).copy()
        for i in range(self.info.dims):
            if not observed[i]:
                h = expit(a)
                p_i = expit(h @ V[i] + b[i])
                x[:, i] = rng.random(n) < p_i
            a += np.outer(x[:, i], W[:, i])
        return x.reshape((n,) + self.info.shape)
