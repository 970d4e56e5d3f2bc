"""D3PM (Austin et al. 2021, "Structured Denoising Diffusion Models in Discrete State-Spaces"):
a T-step chain on tokens, absorbing (mask) or uniform (``scratchgen.discrete_diffusion.graphs``,
step k at time t_k = k / T), with the network's denoiser p0 = softmax(out) and its reverse
step p_theta(x_{k-1} | x_k) = sum_{x_0} q(x_{k-1} | x_k, x_0) p0(x_0). The bound (eq. 1),

    -log p(x_0) <= KL(q(x_T | x_0) || pi)
                   + sum_{k=1}^T E_q KL(q(x_{k-1} | x_k, x_0) || p_theta(x_{k-1} | x_k)),

trains through one term drawn uniformly, T KL_k (an unbiased estimate of the sum; the paper's
auxiliary cross-entropy, its lambda, is left out, so that the loss is the bound). ``log_prob``
sums all T terms, each at one draw of x_k. Sampling runs the chain, on every step or on
``steps`` of them (the same formula between any two times).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.discrete_diffusion import Graph, d3pm_kl
from scratchgen.models.base import register
from scratchgen.models.discrete_diffusion.base import DiscreteDiffusion
from scratchgen.settings import Size


@register("d3pm", ("categorical",),
          "D3PM (Austin et al. 2021): a T-step absorbing or uniform chain on tokens, its "
          "variational bound")  # fmt: skip
class D3PM(DiscreteDiffusion):
    def __init__(self, info: DataInfo, graph: Literal["absorbing", "uniform"] = "absorbing",
                 T: Size = 100, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, graph=graph, T=T, **hparams)

    def make_graph(self, vocab: int) -> Graph:
        return Graph(self.hparams["graph"], vocab)

    def term(self, x0: np.ndarray, k: np.ndarray, rng: np.random.Generator) -> Tensor:
        """KL_k per example (n,) at one draw of x_k ~ q(x_k | x_0), steps k (n,) in 1..T."""
        T = self.hparams["T"]
        x_t = self.graph.sample_marginal(x0, k / T, rng)
        return d3pm_kl(self.graph, self.log_p0(x_t, k / T), x0, x_t, self.graph.alpha((k - 1) / T),
                       self.graph.alpha(k / T))  # fmt: skip

    def loss(self, x: Any, y: Any = None) -> Tensor:
        x0 = self.tokens(x)
        k = self.rng.integers(1, self.hparams["T"] + 1, size=len(x0))
        prior = self.graph.prior_kl(x0).astype(self.dtype)
        return ad.mean(self.term(x0, k, self.rng) * float(self.hparams["T"]) + prior)

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        x0, rng = self.tokens(x), self.evaluation_rng()
        with ad.no_grad():
            bound = self.graph.prior_kl(x0)
            for k in range(1, self.hparams["T"] + 1):
                bound = bound + self.term(x0, np.full(len(x0), k), rng).data
        return Tensor(-bound)

    def reverse(self, n: int, rng: np.random.Generator, steps: int, given: Any, known: Any,
                return_trajectory: bool) -> Any:  # fmt: skip
        T = self.hparams["T"]
        if T % steps:
            raise ValueError(f"d3pm: {steps} sampling steps must divide T = {T} (the chain's "
                             "times are k / T)")  # fmt: skip
        return super().reverse(n, rng, steps, given, known, return_trajectory)
