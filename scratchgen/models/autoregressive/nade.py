"""NADE, the neural autoregressive distribution estimator (Larochelle & Murray 2011, eq. 3-4).

One hidden layer shared by all the conditionals:

    h_i = sigmoid(c + W_{:, <i} x_{<i}),     p(x_i = 1 | x_<i) = sigmoid(b_i + V_i . h_i)

The pre-activation a_i = c + sum_{j<i} W_{:, j} x_j is a running sum: a_{i+1} = a_i + W_{:, i} x_i,
so every conditional of an example costs O(D H) in all, not O(D^2 H). The conditionals are one
engine primitive: the Numba kernel ``kernels.nade`` walks the running sum forward, and back for
the gradient (the paper's Algorithm 1), without storing the n x D x H pre-activations (9x faster
than the same equations in engine operations on binarized MNIST). When backward builds a graph
for a higher derivative, the gradient comes from those engine operations instead (an exclusive
cumulative sum, ``_composite_logits``), which give the same numbers and differentiate to any
order. Sampling walks the running sum too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit  # sigmoid without overflow

import autodiff as ad
from autodiff import Tensor
from kernels import nade as _kernel
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import BinaryAutoregressive, completion_start
from scratchgen.models.base import register
from scratchgen.nn import Parameter, init
from scratchgen.settings import Size


def _composite_logits(x: Tensor, W: Tensor, c: Tensor, V: Tensor, b: Tensor) -> Tensor:
    """The conditionals in engine operations: a_i as an exclusive cumulative sum over i."""
    contributions = ad.unsqueeze(x, 2) * ad.transpose(W)  # (n, D, H): x_j W_{:, j}
    a = c + ad.cumsum(contributions, axis=1) - contributions
    return ad.sum(V * ad.sigmoid(a), axis=2) + b


def _logits_vjp(G, ans, *inputs):
    if ad.is_grad_enabled():  # backward is recording a graph: take the differentiable path
        wanted = [t for t in inputs if t.requires_grad]
        grads = iter(ad.grad(_composite_logits(*inputs), wanted, grad_outputs=G,
                             create_graph=True, allow_unused=True))  # fmt: skip
        return tuple(next(grads) if t.requires_grad else None for t in inputs)
    return tuple(Tensor(g) for g in _kernel.nade_logits_grad(*(t.data for t in inputs), G.data))


_nade_logits = ad.primitive(_kernel.nade_logits, name="nade_logits").defvjp_joint(_logits_vjp)


@register("nade", ("binary",), "NADE: one hidden layer shared across conditionals")
class NADE(BinaryAutoregressive):
    def __init__(self, info: DataInfo, hidden: Size = 64, **hparams: Any) -> None:
        super().__init__(info, hidden=hidden, **hparams)
        d, rng = info.dims, np.random.default_rng(hparams.get("seed", 0))
        self.W = Parameter(init.normal(rng, (hidden, d), 1 / np.sqrt(d), self.dtype))
        self.c = Parameter(np.zeros(hidden), dtype=self.dtype)
        self.V = Parameter(init.normal(rng, (d, hidden), 1 / np.sqrt(hidden), self.dtype))
        self.b = Parameter(np.zeros(d), dtype=self.dtype)

    def conditional_logits(self, x: Tensor) -> Tensor:
        return _nade_logits(x, self.W, self.c, self.V, self.b)

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
