"""Posterior sampling by replacement: a diffusion model's reverse chain, with the part of x that
a linear measurement y = A x fixes put back at every step, noised to that step's marginal.

In the operator's orthonormal basis (``scratchgen.inverse.operators``) the coordinates c = V^T x
split into observed ones, fixed by y, and free ones. After each reverse step from level t to
t - 1 the chain's observed coordinates are replaced by a draw of the forward marginal of the
known ones,

    c_obs,t-1 = sqrt(alpha_bar_{t-1}) c_obs(y) + sqrt(1 - alpha_bar_{t-1}) z,    z ~ N(0, I),

(Song et al. 2021, "Score-Based Generative Modeling through SDEs", appendix I.2: the known
region noised to its marginal, not pasted clean), so at t = 0 the samples satisfy A x = y
exactly. This is exact when the free and the observed coordinates are independent under the
data; otherwise the free part only sees the observed part through the noised chain, and the
samples are not the posterior's (the tests measure by how much on a correlated Gaussian).

RePaint (Lugmayr et al. 2022, "RePaint: Inpainting using Denoising Diffusion Probabilistic
Models", algorithm 1 and section 4.2) gives the model time to harmonise the two parts: every
``jump_length`` steps the chain goes back up ``jump_length`` steps by the forward process,

    x_{t+1} = sqrt(1 - beta_{t+1}) x_t + sqrt(beta_{t+1}) z,

and down again, ``resampling`` times in all, so that the free part is denoised again from a
state that already agrees with y. ``repaint_times`` is that walk; ``impute`` is the plain
replacement, RePaint with no resampling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchgen.diffusion.discrete_samplers import ancestral_step
from scratchgen.diffusion.objectives import EpsFn, Variance
from scratchgen.diffusion.run import Run, start
from scratchgen.diffusion.schedule import NoiseSchedule
from scratchgen.inverse.operators import LinearOperator

Array = np.ndarray


def repaint_times(T: int, jump_length: int = 10, resampling: int = 10) -> list[int]:
    """The levels RePaint's chain visits, from T (noise) to 0 (data), one step at a time: down
    to each multiple j of ``jump_length`` below T - jump_length (0 included), then back up to
    j + jump_length and down again, ``resampling - 1`` times at each such j."""
    if jump_length < 1 or resampling < 1 or T < 1:
        raise ValueError(f"repaint: T, jump_length and resampling must be at least 1, got {T}, "
                         f"{jump_length} and {resampling}")  # fmt: skip
    jumps_left = {j: resampling - 1 for j in range(0, T - jump_length, jump_length)}
    level, levels = T, [T]
    while level > 0:
        level -= 1
        levels.append(level)
        if jumps_left.get(level, 0) > 0:
            jumps_left[level] -= 1
            levels.extend(range(level + 1, level + jump_length + 1))
            level += jump_length
    return levels


def _replace(operator: LinearOperator, x: Array, known: Array, mask: Array, level_mean: float,
             level_std: float, rng: np.random.Generator) -> Array:  # fmt: skip
    """x with its observed coordinates drawn from N(level_mean * known, level_std^2)."""
    c = operator.to_basis(x)
    c[:, mask] = level_mean * known + level_std * rng.standard_normal(known.shape)
    return operator.from_basis(c, x.shape)


def repaint(schedule: NoiseSchedule, eps_fn: EpsFn, shape: Any, rng: np.random.Generator,
            operator: LinearOperator, y: Array, jump_length: int = 10, resampling: int = 10,
            variance: Variance = "beta", clip: tuple[float, float] | None = None,
            return_trajectory: bool = False, return_nfe: bool = False) -> Any:  # fmt: skip
    """Samples of x (``shape``, n first) given y = operator.apply(x), by RePaint's walk
    (``repaint_times``) over the DDPM chain: each step down is ``ddpm_ancestral``'s step
    followed by the replacement of the observed coordinates; each step up is q(x_{t+1} | x_t).
    One call of eps_fn per step down: T + (resampling - 1) * jump_length * (the number of
    jumps). Returns the samples, then the states after every move and the NFE, as asked."""
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    y = operator.check(y, shape)
    mask = operator.observed(shape)
    known = operator.observed_values(y, shape)
    levels = repaint_times(schedule.T, jump_length, resampling)
    ab = np.concatenate([[1.0], schedule.alpha_bar])  # ab[t] = alpha_bar_t, ab[0] = 1
    x = start(shape, rng, "repaint")
    x = _replace(operator, x, known, mask, np.sqrt(ab[-1]), np.sqrt(1 - ab[-1]), rng)
    run = Run(eps_fn, x, "repaint", return_trajectory)
    for level, following in zip(levels[:-1], levels[1:]):
        if following < level:  # denoise, then put the observed part back at level t - 1
            x = ancestral_step(schedule, run, x, level - 1, variance, clip, rng)
            x = _replace(operator, x, known, mask, np.sqrt(ab[following]),
                         np.sqrt(1 - ab[following]), rng)  # fmt: skip
        else:  # the forward process one step up, from level t to t + 1 (index t)
            x = np.sqrt(schedule.alphas[level]) * x \
                + np.sqrt(schedule.betas[level]) * rng.standard_normal(x.shape)  # fmt: skip
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)


def impute(schedule: NoiseSchedule, eps_fn: EpsFn, shape: Any, rng: np.random.Generator,
           operator: LinearOperator, y: Array, variance: Variance = "beta",
           clip: tuple[float, float] | None = None, return_trajectory: bool = False,
           return_nfe: bool = False) -> Any:  # fmt: skip
    """Replacement alone (Song et al. 2021, appendix I.2, on the DDPM chain): ``repaint`` with
    no resampling, T calls of eps_fn."""
    return repaint(schedule, eps_fn, shape, rng, operator, y, jump_length=1, resampling=1,
                   variance=variance, clip=clip, return_trajectory=return_trajectory,
                   return_nfe=return_nfe)  # fmt: skip
