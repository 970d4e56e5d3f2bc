"""What the continuous-time models (MDLM, SEDD) share: the bound

    -log p(x_0) <= int_delta^1 integrand(x_0, t) dt + KL(q(x_1 | x_0) || pi^L)
                   + E_{q(x_delta | x_0)} -log dec(x_0 | x_delta),

each subclass giving its ``integrand`` (one draw of x_t ~ q(x_t | x_0) inside) and its
decoder's ``decoder_nll``. Training draws stratified t in [delta, 1) and leaves out the
decoder's term, which is O(delta L) (the integral's variance grows as log(1 / delta), hence
delta > 0); ``log_prob`` keeps it and estimates the integral with ``eval_times`` stratified
times per sequence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.discrete_diffusion.base import DiscreteDiffusion
from scratchgen.settings import Probability, Size


class ContinuousTime(DiscreteDiffusion):
    """Settings ``delta`` (the smallest time) and ``eval_times`` (strata per sequence in
    ``log_prob``)."""

    def __init__(self, info: DataInfo, delta: Probability = 1e-3, eval_times: Size = 16,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, delta=delta, eval_times=eval_times, **hparams)

    def integrand(self, x0: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> Tensor:
        raise NotImplementedError

    def decoder_nll(self, x0: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """-log dec(x_0 | x_delta) at one draw of x_delta, per example (n,)."""
        raise NotImplementedError

    def loss(self, x: Any, y: Any = None) -> Tensor:
        x0, delta = self.tokens(x), self.hparams["delta"]
        t = self.stratified_times(len(x0), self.rng, delta)
        prior = self.graph.prior_kl(x0).astype(self.dtype)
        return ad.mean(self.integrand(x0, t, self.rng) * (1.0 - delta) + prior)

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        x0, rng, delta = self.tokens(x), self.evaluation_rng(), self.hparams["delta"]
        K = self.hparams["eval_times"]
        with ad.no_grad():
            bound = self.graph.prior_kl(x0)
            for k in range(K):  # stratum k of every sequence: together K strata per sequence
                u = (k + rng.random(len(x0))) / K
                bound += self.integrand(x0, delta + (1 - delta) * u, rng).data * (1 - delta) / K
            bound += self.decoder_nll(x0, rng)
        return Tensor(-bound)
