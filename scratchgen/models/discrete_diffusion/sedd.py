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
log-probabilities without being forced to normalise). Training draws stratified t in
[delta, 1); ``log_prob`` estimates the integral with ``eval_times`` stratified times per
sequence. Sampling: the analytic ("Tweedie") or the Euler (tau-leaping) step
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
from scratchgen.models.discrete_diffusion.base import DiscreteDiffusion
from scratchgen.settings import Probability, Size


@register("sedd", ("categorical",),
          "score entropy discrete diffusion (SEDD, Lou et al. 2024): the concrete score under "
          "the absorbing or uniform graph; analytic or Euler sampling")  # fmt: skip
class SEDD(DiscreteDiffusion):
    def __init__(self, info: DataInfo, graph: Literal["absorbing", "uniform"] = "absorbing",
                 delta: Probability = 1e-3, eval_times: Size = 16,
                 sampler: Literal["analytic", "euler"] = "analytic",
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, graph=graph, delta=delta, eval_times=eval_times, sampler=sampler,
                         **hparams)  # fmt: skip

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

    def loss(self, x: Any, y: Any = None) -> Tensor:
        x0, delta = self.tokens(x), self.hparams["delta"]
        t = self.stratified_times(len(x0), self.rng, delta)
        prior = self.graph.prior_kl(x0).astype(self.dtype)
        return ad.mean(self.integrand(x0, t, self.rng) * (1.0 - delta) + prior)

    def score(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.exp(self.log_score(x_t, t).data.astype(np.float64))

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        x0, rng, delta = self.tokens(x), self.evaluation_rng(), self.hparams["delta"]
        K = self.hparams["eval_times"]
        with ad.no_grad():
            bound = self.graph.prior_kl(x0)
            for k in range(K):  # stratum k of every sequence
                u = (k + rng.random(len(x0))) / K
                bound += self.integrand(x0, delta + (1 - delta) * u, rng).data * (1 - delta) / K
            t = np.full(len(x0), delta)
            x_t = self.graph.sample_marginal(x0, t, rng)
            decoder = analytic_step(self.graph, self.score(x_t, t), x_t, delta, 0.0)
            bound -= np.log(np.take_along_axis(decoder, x0[..., None], -1)[..., 0]).sum(axis=1)
        return Tensor(-bound)

    def reverse(self, n: int, rng: np.random.Generator, steps: int, given: Any, known: Any,
                return_trajectory: bool) -> Any:  # fmt: skip
        sampler = SAMPLERS[self.hparams["sampler"]]
        return sampler(self.graph, self.score, (n, self.L), rng, steps, given, known,
                       return_trajectory=return_trajectory)  # fmt: skip
