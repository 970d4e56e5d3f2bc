"""Masked diffusion in continuous time (MDLM: Sahoo et al. 2024, "Simple and Effective Masked
Diffusion Language Models"; the same bound in Shi et al. 2024): the absorbing graph with
alpha_t = 1 - t, the denoiser p0 = softmax(out) over the data tokens (never the mask, and
unmasked tokens are carried over by the reverse step itself), and the bound (eq. 10)

    -log p(x_0) <= int_delta^1 (1 / t) E_q sum_{l: x_t^l = mask} -log p0(x_0^l | x_t) dt
                   + E_{q(x_delta | x_0)} sum_{l: x_delta^l = mask} -log p0(x_0^l | x_delta),

its last term the decoder from t = delta (each token masked with probability delta). The
integrand is a weighted masked-token cross-entropy (``masked_cross_entropy``). Training draws
stratified t in [delta, 1) (section 3.5) and leaves out the decoder's term, which is O(delta L)
(the integral's variance grows as log(1 / delta), hence delta > 0); ``log_prob`` keeps it and
estimates the integral with ``eval_times`` stratified times per sequence. Sampling runs the
reverse step p(x_s | x_t) on ``steps`` equal steps (eq. 7).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.discrete_diffusion import Graph, masked_cross_entropy
from scratchgen.models.base import register
from scratchgen.models.discrete_diffusion.base import DiscreteDiffusion
from scratchgen.settings import Probability, Size


@register("mdlm", ("categorical",),
          "masked diffusion in continuous time (MDLM, Sahoo et al. 2024): the absorbing "
          "graph's masked cross-entropy bound")  # fmt: skip
class MDLM(DiscreteDiffusion):
    def __init__(self, info: DataInfo, delta: Probability = 1e-3, eval_times: Size = 16,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, delta=delta, eval_times=eval_times, **hparams)

    def make_graph(self, vocab: int) -> Graph:
        return Graph("absorbing", vocab)

    def integrand(self, x0: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Tensor:
        x_t = self.graph.sample_marginal(x0, t, rng)
        return masked_cross_entropy(self.graph, self.log_p0(x_t, t), x0, x_t, t)

    def loss(self, x: Any, y: Any = None) -> Tensor:
        x0, delta = self.tokens(x), self.hparams["delta"]
        t = self.stratified_times(len(x0), self.rng, delta)
        return ad.mean(self.integrand(x0, t, self.rng)) * (1.0 - delta)

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        x0, rng, delta = self.tokens(x), self.evaluation_rng(), self.hparams["delta"]
        K = self.hparams["eval_times"]
        with ad.no_grad():
            bound = np.zeros(len(x0))
            for k in range(K):  # stratum k of every sequence: together K strata per sequence
                u = (k + rng.random(len(x0))) / K
                bound += self.integrand(x0, delta + (1 - delta) * u, rng).data * (1 - delta) / K
            t = np.full(len(x0), delta)
            x_t = self.graph.sample_marginal(x0, t, rng)
            # the decoder's -log p0 at masked tokens: the integrand's weight there is 1 / delta
            bound += masked_cross_entropy(self.graph, self.log_p0(x_t, t), x0, x_t, t).data * delta
        return Tensor(-bound)
