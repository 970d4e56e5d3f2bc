"""Masked diffusion in continuous time (MDLM: Sahoo et al. 2024, "Simple and Effective Masked
Diffusion Language Models"; the same bound in Shi et al. 2024): the absorbing graph with
alpha_t = 1 - t, the denoiser p0 = softmax(out) over the data tokens (never the mask, and
unmasked tokens are carried over by the reverse step itself), and the bound (eq. 10)

    -log p(x_0) <= int_delta^1 (1 / t) E_q sum_{l: x_t^l = mask} -log p0(x_0^l | x_t) dt
                   + E_{q(x_delta | x_0)} sum_{l: x_delta^l = mask} -log p0(x_0^l | x_delta),

its last term the decoder from t = delta (each token masked with probability delta). The
integrand is a weighted masked-token cross-entropy (``masked_cross_entropy``); training and
the estimate of the bound are ``ContinuousTime``'s (stratified t, section 3.5). Sampling runs
the reverse step p(x_s | x_t) on ``sample_steps`` equal steps (eq. 7).
"""

from __future__ import annotations

import numpy as np

from autodiff import Tensor
from scratchgen.discrete_diffusion import Graph, masked_cross_entropy
from scratchgen.models.base import register
from scratchgen.models.discrete_diffusion.continuous import ContinuousTime


@register("mdlm", ("categorical",),
          "masked diffusion in continuous time (MDLM, Sahoo et al. 2024): the absorbing "
          "graph's masked cross-entropy bound")  # fmt: skip
class MDLM(ContinuousTime):
    def make_graph(self, vocab: int) -> Graph:
        return Graph("absorbing", vocab)

    def integrand(self, x0: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Tensor:
        x_t = self.graph.sample_marginal(x0, t, rng)
        return masked_cross_entropy(self.graph, self.log_p0(x_t, t), x0, x_t, t)

    def decoder_nll(self, x0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """-log p0 at the tokens still masked at delta: the integrand there, times delta."""
        t = np.full(len(x0), self.hparams["delta"])
        return self.integrand(x0, t, rng).data * self.hparams["delta"]
