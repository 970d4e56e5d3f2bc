"""The denoising diffusion probabilistic model (Ho, Jain & Abbeel 2020): a network f_theta(x_t,
t) trained by L_simple (eq. 14) to predict the noise eps (or x_0, or v: Salimans & Ho 2022),
sampled by the reverse chain (algorithm 2) or by DDIM on a subsequence of the steps (Song,
Meng & Ermon 2021), with log_prob the negative variational bound -L_vlb (eq. 5): a lower
bound on log P(x), flagged by ``has_bound``, for images through the discretised decoder on
the data's own levels (eq. 13), so that it is a probability's log and bits/dim compare with
the autoregressive models'. The mathematics is ``scratchgen.diffusion``'s; this file holds
the settings and the network.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from autodiff import Tensor
from scratchgen import diffusion
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.diffusion.base import DiffusionModel
from scratchgen.settings import Size

SAMPLERS = ("ancestral", "ddim")


@register("ddpm", ("binary", "categorical", "continuous"),
          "denoising diffusion (Ho et al. 2020): L_simple, ancestral or DDIM sampling, "
          "log p bounded by the variational bound")  # fmt: skip
class DDPM(DiffusionModel):
    has_bound = True

    def __init__(self, info: DataInfo, noise_schedule: Literal["linear", "cosine"] = "linear",
                 timesteps: Size = 1000, parametrization: Literal["eps", "x0", "v"] = "eps",
                 variance: Literal["beta", "posterior"] = "beta",
                 sampler: Literal["ancestral", "ddim"] = "ancestral", ddim_steps: Size = 50,
                 eta: float = 0.0, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, noise_schedule=noise_schedule, timesteps=timesteps,
                         parametrization=parametrization, variance=variance, sampler=sampler,
                         ddim_steps=ddim_steps, eta=eta, **hparams)  # fmt: skip
        # the schedule is arithmetic on the settings, not a parameter: no average touches it
        self.schedule = diffusion.NoiseSchedule(noise_schedule, timesteps)

    def predict(self, x_t: Tensor, t: np.ndarray) -> Tensor:
        """f_theta(x_t, t): the parametrisation's prediction at step index t (n,)."""
        return self.network(x_t, t)

    def eps(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        """eps_theta(x_t, t) as an ndarray, whatever the network predicts."""
        prediction = self.network_array(x_t, t)
        return self.schedule.to_x0_eps(prediction, x_t, t, self.hparams["parametrization"])[1]

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """L_simple: the mean squared error of the prediction at a uniform step (eq. 14)."""
        return diffusion.simple_loss(self.predict, self.signal(x), self.schedule, self.rng,
                                     self.hparams["parametrization"])  # fmt: skip

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        """-L_vlb per example, in nats: a lower bound on log P(x) (discrete data, decoder on
        the data's levels) or on log p(x) (vectors, a Gaussian decoder). T network passes."""
        levels = 2 if self.info.kind == "binary" else self.info.levels
        decoder = "gaussian" if self.info.kind == "continuous" else "discretized"
        bound = diffusion.variational_bound(self.schedule, self.eps, self.signal(x), self.rng,
                                            decoder=decoder, bins=levels or 256,
                                            variance=self.hparams["variance"])  # fmt: skip
        return Tensor(-bound["total"])

    def sample(self, n: int, rng: np.random.Generator, sampler: str | None = None,
               steps: int | None = None, eta: float | None = None,
               return_trajectory: bool = False) -> Any:  # fmt: skip
        """n samples in data space by the settings' sampler unless given: ``"ancestral"`` (T
        steps) or ``"ddim"`` (``steps`` of the subsequence, the settings' ``ddim_steps`` or
        all T if fewer, and ``eta``); with
        ``return_trajectory`` also the states in the model's space."""
        h = self.hparams
        sampler = sampler or h["sampler"]
        if sampler not in SAMPLERS:
            raise ValueError(f"ddpm: sampler must be one of {SAMPLERS}, got {sampler!r}")
        shape, clip = (n, *self.info.shape), ((-1.0, 1.0) if self.image else None)
        if sampler == "ancestral":
            out = diffusion.ddpm_ancestral(self.schedule, self.eps, shape, rng, h["variance"],
                                           clip, return_trajectory=return_trajectory)  # fmt: skip
        else:
            steps = steps or min(h["ddim_steps"], self.schedule.T)  # a short chain's whole
            out = diffusion.ddim(self.schedule, self.eps, shape, rng, steps,
                                 h["eta"] if eta is None else eta, clip,
                                 return_trajectory=return_trajectory)  # fmt: skip
        if return_trajectory:
            return self.from_signal(out[0]), out[1]
        return self.from_signal(out)
