"""A DDPM's noise predictor as the score of the VP SDE (Song et al. 2021, section 3.4 and
appendix B): DDPM's chain with linear betas beta_i = beta(i / T) / T is the discretisation of
dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw with beta(t) = b0 + t (b1 - b0), b0 = T beta_1 and
b1 = T beta_T (0.1 and 20 for Ho et al.'s schedule, whatever T), and

    grad log p_t(x) = -eps_theta(x, i) / sqrt(1 - alpha_bar_i),    i = round(t T) - 1,

the step whose noise level the network was trained at for time t. So one trained DDPM runs
under the continuous samplers too (predictor-corrector, the probability-flow ODE), the
comparison of samplers on one network that the paper's section 4 makes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scratchgen.diffusion.objectives import EpsFn
from scratchgen.diffusion.schedule import NoiseSchedule
from scratchgen.diffusion.sde import VPSDE

Array = np.ndarray


def vp_sde_for(schedule: NoiseSchedule) -> VPSDE:
    """The VP SDE that the linear schedule discretises; a cosine schedule has none."""
    if schedule.kind != "linear":
        raise ValueError(f"vp_sde_for: only the linear schedule is a VP SDE's discretisation, "
                         f"got {schedule.kind!r}")  # fmt: skip
    return VPSDE(beta_min=schedule.T * schedule.betas[0], beta_max=schedule.T * schedule.betas[-1])


def score_from_eps(schedule: NoiseSchedule, eps_fn: EpsFn) -> Callable[[Array, Array], Array]:
    """score_fn(x, t) = -eps_fn(x, i) / sqrt(1 - alpha_bar_i) at i = round(t T) - 1 (clipped
    to the schedule's steps), for the samplers of ``sde_samplers`` on ``vp_sde_for``'s SDE."""

    def score_fn(x: Array, t: Array) -> Array:
        index = np.clip(np.rint(np.asarray(t) * schedule.T).astype(np.int64) - 1, 0,
                        schedule.T - 1)  # fmt: skip
        index = np.broadcast_to(index, (len(x),))
        std = np.sqrt(1 - schedule.alpha_bar[index]).reshape((-1,) + (1,) * (x.ndim - 1))
        return -np.asarray(eps_fn(x, index)) / std

    return score_fn
