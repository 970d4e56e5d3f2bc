"""Guidance: steering a diffusion model's noise prediction toward a condition c at sampling
time, on plain functions of ndarrays like the samplers that use them.

Both methods rest on Bayes' rule for scores, grad log p_t(x | c) = grad log p_t(x) + grad log
p_t(c | x), and on eps = -sqrt(1 - alpha_bar_t) grad log p_t(x) (Tweedie's formula), which
turns a statement about scores into one about noise predictions.

* Classifier guidance (Dhariwal & Nichol 2021, section 4, algorithm 2 and eq. 14): a
  classifier p_phi(c | x_t, t) trained on noised inputs supplies the second term, scaled by s:

      eps^(x_t, c) = eps(x_t) - s sqrt(1 - alpha_bar_t) grad_x log p_phi(c | x_t, t).

  At s = 1 and with exact densities this is the exact conditional noise; s > 1 samples, in the
  small-noise limit, from p(x) p(c | x)^s, sharper in c.

* Classifier-free guidance (Ho & Salimans 2022, eq. 6): one network trained with the condition
  dropped at a rate p_uncond (the null condition) gives both eps(x_t, c) and eps(x_t), and

      eps~(x_t, c) = (1 + w) eps(x_t, c) - w eps(x_t),

  the classifier-guidance formula with the implicit classifier p(c | x_t) proportional to
  p_t(x | c) / p_t(x) and s = 1 + w. Ours is the paper's convention: w = 0 is the conditional
  model as trained, w > 0 guides. Much public code writes eps(x_t) + g (eps(x_t, c) - eps(x_t))
  instead; it is the same with g = 1 + w (g = 1 conditional, g = 0 unconditional).

* In continuous time (Song et al. 2021, "Score-Based Generative Modeling through SDEs",
  section 5: the reverse SDE of p_t(x | c)), the same rule adds s grad_x log p_phi(c | x_t) to
  the score itself. A classifier trained on a DDPM schedule reads any SDE's x_t = m x_0 + s_t z
  after a change of variables (``sde_classifier_guided``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scratchgen.diffusion.schedule import NoiseSchedule
from scratchgen.diffusion.sde import SDE

Array = np.ndarray
EpsFn = Callable[[Array, Array], Any]
ScoreFn = Callable[[Array, Any], Array]


def guided_eps(eps_cond: Array, eps_uncond: Array, w: float) -> Array:
    """(1 + w) eps_cond - w eps_uncond (Ho & Salimans 2022, eq. 6); w = 0 returns eps_cond
    itself, to the last bit."""
    if w == 0:
        return eps_cond
    return (1 + w) * eps_cond - w * eps_uncond


def classifier_free(eps_cond: EpsFn, eps_uncond: EpsFn, w: float) -> EpsFn:
    """eps_fn(x, t) for the samplers: ``guided_eps`` of eps(x, t, c) and eps(x, t), given as
    two functions of (x, t) (the condition bound into the first, the null one into the
    second). With w = 0 it is ``eps_cond`` itself: the null pass never runs, and the condition
    is never dropped at sampling time. A prediction that comes with more than eps (a learned
    variance: a tuple (eps, log sigma^2)) keeps the conditional model's rest."""
    if w < 0:
        raise ValueError(f"classifier-free guidance: w must be >= 0 (0: no guidance), got {w}")
    if w == 0:
        return eps_cond

    def guided(x: Array, t: Array) -> Any:
        cond, uncond = eps_cond(x, t), eps_uncond(x, t)
        if isinstance(cond, tuple):
            return (guided_eps(cond[0], uncond[0], w), *cond[1:])
        return guided_eps(cond, uncond, w)

    return guided


def _guides(s: float) -> bool:
    """Whether a classifier scale s guides at all (s > 0); a negative one is refused."""
    if s < 0:
        raise ValueError(f"classifier guidance: the scale s must be >= 0, got {s}")
    return s > 0


def classifier_guided(eps_fn: EpsFn, schedule: NoiseSchedule,
                      grad_log_classifier: Callable[[Array, Array], Array],
                      s: float) -> EpsFn:  # fmt: skip
    """eps_fn(x, t) for the samplers: eps(x_t) - s sqrt(1 - alpha_bar_t) grad log p(c | x_t, t)
    (Dhariwal & Nichol 2021, eq. 14), with ``grad_log_classifier(x, t)`` the gradient for the
    wanted condition (bound in by the caller). s = 0 is ``eps_fn`` itself."""
    if not _guides(s):
        return eps_fn

    def guided(x: Array, t: Array) -> Array:
        index = schedule.index(t, len(x))
        scale = s * np.sqrt(1 - schedule.alpha_bar[index]).reshape((-1,) + (1,) * (x.ndim - 1))
        shift, out = scale * grad_log_classifier(x, t), eps_fn(x, t)
        return (out[0] - shift, *out[1:]) if isinstance(out, tuple) else out - shift

    return guided


def sde_classifier_guided(score_fn: ScoreFn, sde: SDE, schedule: NoiseSchedule,
                          grad_log_classifier: Callable[[Array, Array], Array],
                          s: float) -> ScoreFn:  # fmt: skip
    """score_fn(x, t) for the SDE samplers, guided by a classifier of a DDPM ``schedule``:

        score^(x_t, c) = score(x_t) + s grad_x log p_phi(c | x_t).

    The SDE's kernel x_t = m x_0 + s_t z is the DDPM's after a rescaling: with
    r = sqrt(m^2 + s_t^2), u = x_t / r = (m / r) x_0 + (s_t / r) z is distributed as the DDPM's
    x_i for alpha_bar_i = m^2 / r^2 (the two coefficients' squares sum to one, as the DDPM's
    do), so p(c | x_t) = p_phi(c | u, i) at the step nearest that alpha_bar
    (``NoiseSchedule.nearest``), and grad_x = grad_u / r. For VP r = 1 and only the time is
    translated; for VE, m = 1 and u = x_t / sqrt(1 + sigma^2). ``grad_log_classifier(u, i)``
    takes step indices; s = 0 is ``score_fn`` itself."""
    if not _guides(s):
        return score_fn

    def guided(x: Array, t: Any) -> Array:
        t = sde.times(t, len(x))
        m, std = sde.kernel(t)
        r = np.sqrt(m**2 + std**2).reshape((-1,) + (1,) * (x.ndim - 1))
        step = schedule.nearest(m**2 / (m**2 + std**2))
        return score_fn(x, t) + s * grad_log_classifier(x / r, step) / r

    return guided
