"""SEDD, score entropy discrete diffusion (Lou, Meng & Ermon 2024, "Discrete Diffusion Modeling
by Estimating the Ratios of the Data Distribution"): a network for the concrete score
s_theta(x_t, t)_{l,v} ~ p_t(x_t with token l set to v) / p_t(x_t), trained by the denoising
score entropy (``score_entropy``, eq. 9) under the absorbing or the uniform graph with the
log-linear noise, and the bound of their theorem 3.6,

    -log p(x_0) <= int_delta^1 DSE(x_0, t) dt + KL(q(x_1 | x_0) || pi^L)
                   + E_{q(x_delta | x_0)} -log dec(x_0 | x_delta),

dec the analytic step from delta to 0. The score is exp(out) under the uniform graph and
exp(out) alpha_t / (1 - alpha_t) under the absorbing one (their section 3.3: the true ratio
mask -> v is alpha_t / (1 - alpha_t) p(x_0^l = v | x_t), so that out learns a denoiser's
log-probabilities without being forced to normalise). Training and the estimate of the bound
are ``ContinuousTime``'s. Sampling: the analytic ("Tweedie") or the Euler (tau-leaping) step
(``scratchgen.discrete_diffusion.samplers``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.discrete_diffusion import SAMPLERS, Graph, analytic_step, score_entropy
from scratchgen.models.base import register
from scratchgen.models.discrete_diffusion.continuous import ContinuousTime


@register("sedd", ("categorical",),
          "score entropy discrete diffusion (SEDD, Lou et al. 2024): the concrete score under "
          "the absorbing or uniform graph; analytic or Euler sampling")  # fmt: skip
class SEDD(ContinuousTime):
    def __init__(self, info: DataInfo, graph: Literal["absorbing", "uniform"] = "absorbing",
                 sampler: Literal["analytic", "euler"] = "analytic",
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, graph=graph, sampler=sampler, **hparams)

    def make_graph(self, vocab: int) -> Graph:
        return Graph(self.hparams["graph"], vocab)

    def log_score(self, x_t: np.ndarray, t: np.ndarray) -> Tensor:
        """log s_theta(x_t, t), (n, L, S) (the mask's entry, never used, is 0)."""
        out = self.network(x_t, t)
        if not self.graph.absorbing:
            return out
        alpha = self.graph.alpha(t)
        scale = np.log(alpha / (1.0 - alpha)).astype(self.dtype)[:, None, None]
        return ad.pad(out + scale, ((0, 0), (0, 0), (0, 1)))

    def integrand(self, x0: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Tensor:
        x_t = self.graph.sample_marginal(x0, t, rng)
        return score_entropy(self.graph, self.log_score(x_t, t), x0, x_t, t)

    def score(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.exp(self.log_score(x_t, t).data.astype(np.float64))

    def decoder_nll(self, x0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """-log dec(x_0 | x_delta), dec the analytic step from delta to 0."""
        t = np.full(len(x0), self.hparams["delta"])
        x_t = self.graph.sample_marginal(x0, t, rng)
        decoder = analytic_step(self.graph, self.score(x_t, t), x_t, float(t[0]), 0.0)
        return -np.log(np.take_along_axis(decoder, x0[..., None], -1)[..., 0]).sum(axis=1)

    def reverse(self, n: int, rng: np.random.Generator, steps: int, given: Any, known: Any,
                return_trajectory: bool) -> Any:  # fmt: skip
        sampler = SAMPLERS[self.hparams["sampler"]]
        return sampler(self.graph, self.score, (n, self.L), rng, steps, given, known,
                       return_trajectory=return_trajectory)  # fmt: skip
