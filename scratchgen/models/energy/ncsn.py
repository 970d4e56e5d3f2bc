"""The noise-conditional score network (Song & Ermon 2019, "Generative Modeling by Estimating
Gradients of the Data Distribution"): one network s_theta(x, sigma) ~ grad_x log q_sigma(x) for
the data blurred by each of L noise levels sigma_1 > ... > sigma_L, trained by their
sigma^2-weighted denoising score matching (``score_matching.noise_conditional_score_matching``)
and sampled by annealed Langevin dynamics (``samplers.annealed_langevin``), level by level
from the blurriest, where the chains mix, to the sharpest.

    s_theta(x, sigma) = f_theta(x, t(sigma)) / sigma,   t(sigma) = 1000 log(sigma_1 / sigma)
                                                                     / log(sigma_1 / sigma_L)

Dividing by sigma is NCSNv2's parametrisation (Song & Ermon 2020, "Improved Techniques for
Training Score-Based Generative Models", technique 3: ||grad log q_sigma|| ~ 1 / sigma, so f
keeps one scale); unlike NCSNv2, f also reads sigma, through the UNet's time embedding on
images (``scratchgen.nn.unet``) and through sinusoidal features in an MLP on vectors, with
t running over the same 0..1000 as a diffusion model's steps.

Images live in [0, 1], as in the paper, so that its levels are ours: geometric from
sigma_1 = 1 to sigma_L = 0.01 in L = 10 steps, sampled with eps = 2e-5 and T = 100 steps per
level. ``sigma_max=None`` takes the 2020 paper's technique 1 (sigma_1 the largest distance
between two training points) and ``levels=None`` its technique 2 (the ratio gamma of
consecutive levels at which Phi(sqrt(2D)(gamma - 1) + 3 gamma) - Phi(sqrt(2D)(gamma - 1)
- 3 gamma) = 1/2, so that each level's typical set overlaps the next one's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

from autodiff import Tensor
from scratchgen import samplers
from scratchgen import score_matching as sm
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel, register
from scratchgen.models.signal import from_signal, to_signal
from scratchgen.nn.time_mlp import noise_conditional_network
from scratchgen.settings import Positive, Size

DISTANCE_SUBSET = 2000  # training points over which technique 1 takes its largest distance
T_SCALE = 1000.0  # t(sigma) runs from 0 at sigma_1 to T_SCALE at sigma_L


def technique_2_ratio(D: int) -> float:
    """gamma > 1 with Phi(sqrt(2D)(gamma - 1) + 3 gamma) - Phi(sqrt(2D)(gamma - 1) - 3 gamma)
    = 1/2 (Song & Ermon 2020, section 3.2, technique 2). It exists only for D >= 5: below,
    sqrt(2D) < 3 and the overlap tends to 1, not 0, as gamma grows."""
    root = math.sqrt(2 * D)
    if root <= 3:
        raise ValueError(f"ncsn: technique 2 (levels=None) needs at least 5 dimensions, the "
                         f"data has {D}; give levels")  # fmt: skip

    def overlap(gamma: float) -> float:
        a = root * (gamma - 1)
        return stats.norm.cdf(a + 3 * gamma) - stats.norm.cdf(a - 3 * gamma) - 0.5

    return float(optimize.brentq(overlap, 1.0 + 1e-12, 1.0 + 100.0 / root + 10.0))


def largest_distance(x: np.ndarray, rng: np.random.Generator) -> float:
    """Technique 1's sigma_1: the largest Euclidean distance between two of DISTANCE_SUBSET
    training points drawn at random (all of them when there are fewer)."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    if len(flat) > DISTANCE_SUBSET:
        flat = flat[rng.choice(len(flat), DISTANCE_SUBSET, replace=False)]
    squared = np.sum(flat**2, axis=1)
    d2 = squared[:, None] + squared[None, :] - 2 * flat @ flat.T
    return float(np.sqrt(max(d2.max(), 0.0)))


@register("ncsn", ("binary", "categorical", "continuous"),
          "noise-conditional score network: denoising score matching at L noise levels, "
          "annealed Langevin sampling")  # fmt: skip
class NCSN(GenerativeModel):
    def __init__(self, info: DataInfo, sigma_max: Positive | None = 1.0,
                 sigma_min: Positive = 0.01, levels: Size | None = 10, eps: Positive = 2e-5,
                 steps_per_level: Size = 100, denoise: bool = True,
                 hidden: Sequence[Size] = (128, 128), embedding: Size = 32,
                 channels: Size = 32, multipliers: Sequence[Size] = (1, 2, 2),
                 res_blocks: Size = 1, attention: Sequence[Size] | None = None,
                 groups: Size = 8, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, sigma_max=sigma_max, sigma_min=sigma_min, levels=levels, eps=eps,
                         steps_per_level=steps_per_level, denoise=denoise, hidden=list(hidden),
                         embedding=embedding, channels=channels, multipliers=list(multipliers),
                         res_blocks=res_blocks, groups=groups,
                         attention=None if attention is None else list(attention),
                         **hparams)  # fmt: skip
        rng = np.random.default_rng([self.hparams["seed"], 5])
        self.image = len(info.shape) == 3
        self.net = noise_conditional_network(info.shape, self.hparams["hidden"], embedding,
                                             channels, multipliers, res_blocks, attention, groups,
                                             rng=rng, dtype=self.dtype)  # fmt: skip
        self.gamma = technique_2_ratio(info.dims) if levels is None else None
        # sigma_1, kept with the model because technique 1 reads it off the data
        self.register_buffer("sigma_1", np.array(sigma_max or 1.0, dtype=np.float64))

    # ------------------------------------------------------------------ the noise levels
    @property
    def sigmas(self) -> np.ndarray:
        """sigma_1 > ... > sigma_L, geometric: L = ``levels``, or with technique 2 as many as
        its ratio takes to reach sigma_min."""
        sigma_1, sigma_L = float(self.sigma_1), self.hparams["sigma_min"]
        L = self.hparams["levels"]
        if self.gamma is not None:
            L = max(2, math.ceil(math.log(sigma_1 / sigma_L) / math.log(self.gamma)) + 1)
        return np.geomspace(sigma_1, sigma_L, L)

    def unit(self, x: Any) -> np.ndarray:
        """Data -> the model's space: images to [0, 1] (the paper's), vectors as they are."""
        x = x.data if isinstance(x, Tensor) else np.asarray(x)
        s = to_signal(x, self.info)
        return (((s + 1) / 2) if self.image else s).astype(self.dtype)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return from_signal(2 * u - 1 if self.image else u, self.info)

    # ------------------------------------------------------------------ the score
    def noise_input(self, sigma: Any) -> np.ndarray:
        """t(sigma) = 1000 log(sigma_1 / sigma) / log(sigma_1 / sigma_L)."""
        sigmas = self.sigmas
        span = math.log(sigmas[0] / sigmas[-1])
        return T_SCALE * np.log(sigmas[0] / np.asarray(sigma, np.float64)) / span

    def score_tensor(self, x: Tensor, sigma: Any) -> Tensor:
        """s_theta(x, sigma) = f_theta(x, t(sigma)) / sigma, sigma a number or (n,)."""
        sigma = np.broadcast_to(np.asarray(sigma, np.float64), (x.shape[0],))
        scale = (1 / sigma).astype(self.dtype).reshape((-1,) + (1,) * (x.ndim - 1))
        return self.net(x, self.noise_input(sigma)) * Tensor(scale)

    def score(self, x: np.ndarray, sigma: float) -> np.ndarray:
        """s_theta(x, sigma) as an ndarray, at points x in the model's space."""
        return self.score_tensor(Tensor(np.asarray(x, self.dtype)), sigma).data

    # ------------------------------------------------------------------ training
    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """Technique 1 (``sigma_max=None``): sigma_1 from the training data."""
        if self.hparams["sigma_max"] is None:
            self.sigma_1[...] = largest_distance(self.unit(x_train), rng)

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """(1/L) sum_i sigma_i^2 E 1/2 ||s(x~, sigma_i) + (x~ - x) / sigma_i^2||^2, one level
        drawn per example (Song & Ermon 2019, eqs. 5-6)."""
        return sm.noise_conditional_score_matching(self.score_tensor, self.unit(x), self.sigmas,
                                                   self.rng)  # fmt: skip

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, rng: np.random.Generator, steps_per_level: int | None = None,
               eps: float | None = None, denoise: bool | None = None,
               return_trajectory: bool = False) -> Any:  # fmt: skip
        """n samples in data space by annealed Langevin from uniform noise on [0, 1] (images,
        as the paper) or from N(0, sigma_1^2 I) (vectors: about q_sigma_1 when sigma_1 is the
        data's diameter, technique 1's), with the settings' T, eps and final denoising step
        unless given here; with ``return_trajectory`` also the chains after every step, in
        the model's space."""
        h, shape = self.hparams, (n, *self.info.shape)
        x0 = (rng.uniform(0, 1, size=shape) if self.image
              else float(self.sigma_1) * rng.standard_normal(shape))  # fmt: skip
        out = samplers.annealed_langevin(
            self.score, self.sigmas, h["eps"] if eps is None else eps,
            steps_per_level or h["steps_per_level"], x0.astype(self.dtype), rng,
            denoise=h["denoise"] if denoise is None else denoise,
            return_trajectory=return_trajectory)  # fmt: skip
        if return_trajectory:
            x, trajectory = out
            return self.from_unit(x), trajectory
        return self.from_unit(out)
