"""Diffusion posterior sampling (Chung, Kim, Mccann, Klasky & Ye 2023, "Diffusion Posterior
Sampling for General Noisy Inverse Problems", algorithm 1): the DDPM chain, each step followed
by a gradient step on the measurement's consistency through Tweedie's estimate of x_0,

    x0_hat(x_t) = (x_t - sqrt(1 - alpha_bar_t) eps(x_t, t)) / sqrt(alpha_bar_t),
    x_{t-1} = x'_{t-1} - zeta_t grad_{x_t} ||y - A x0_hat(x_t)||_2,

with x'_{t-1} the ancestral step from x_t and a constant step zeta_t = zeta. The paper divides
zeta by the residual's norm; with a noise-free y that norm goes to zero and the divided step
grows without bound (on the tests' Gaussian it diverges), so ours is constant: the gradient of
the norm, not of its square, already has the scale of the Jacobian rather than of the
residual. It approximates p(y | x_t) by p(y | x0_hat(x_t)),
so it is soft: y is approached, never imposed, which is what lets it take noisy measurements
(y = A x + n) that replacement cannot. The gradient runs through the network:

    grad_{x_t} ||r|| = (g - sqrt(1 - alpha_bar_t) J_eps^T g) / sqrt(alpha_bar_t),
    g = A^T r / ||r||,  r = A x0_hat - y,

with J_eps^T g the vector-Jacobian product of eps, which a model gives by one backward pass
through the engine (``DDPM.eps_vjp``) and a closed-form target gives exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scratchgen.diffusion.discrete_samplers import step_from_prediction
from scratchgen.diffusion.objectives import EpsFn, Variance
from scratchgen.diffusion.run import Run, start
from scratchgen.diffusion.schedule import NoiseSchedule
from scratchgen.inverse.operators import LinearOperator

Array = np.ndarray
EpsVjp = Callable[[Array, Array, Array], Array]
TINY = 1e-12  # a residual this small is consistent already: its gradient is taken as zero


def dps(schedule: NoiseSchedule, eps_fn: EpsFn, eps_vjp: EpsVjp, shape: Any,
        rng: np.random.Generator, operator: LinearOperator, y: Array, zeta: float = 1.0,
        variance: Variance = "beta", clip: tuple[float, float] | None = None,
        return_trajectory: bool = False, return_nfe: bool = False) -> Any:  # fmt: skip
    """Samples of x (``shape``, n first) given y ~ A x (+ noise) by DPS: T calls of eps_fn
    and T of ``eps_vjp(x, t, v)`` = v^T d eps(x, t) / dx, ``zeta`` the step on the gradient.
    Returns the samples, then the states and the NFE, as asked."""
    if not zeta >= 0:
        raise ValueError(f"dps: zeta must be >= 0, got {zeta}")
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    y = operator.check(y, shape)
    x = start(shape, rng, "dps")
    run = Run(eps_fn, x, "dps", return_trajectory)
    for index in reversed(range(schedule.T)):
        t = np.full(shape[0], index)
        prediction = run(x, t)
        eps = prediction[0] if isinstance(prediction, tuple) else prediction
        grad = consistency_gradient(schedule, eps, eps_vjp, operator, x, t, y)
        x_next = step_from_prediction(schedule, prediction, x, index, variance, clip, rng, "dps")
        x = x_next - zeta * grad
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)


def consistency_gradient(schedule: NoiseSchedule, eps: Array, eps_vjp: EpsVjp,
                         operator: LinearOperator, x: Array, t: Array,
                         y: Array) -> Array:  # fmt: skip
    """grad_x ||y - A x0_hat(x)||_2 per example at step indices t, given eps = eps(x, t): the
    chain rule through Tweedie's estimate, (g - sqrt(1 - ab) J_eps^T g) / sqrt(ab) with
    g = A^T r / ||r||, r = A x0_hat - y, ab = alpha_bar_t (and g = 0 where r is)."""
    y = operator.check(y, x.shape)
    column = (-1,) + (1,) * (x.ndim - 1)
    a = np.sqrt(schedule.alpha_bar[t]).reshape(column)
    b = np.sqrt(1 - schedule.alpha_bar[t]).reshape(column)
    r = operator.apply((x - b * eps) / a) - y
    norm = np.sqrt(np.sum(r.reshape(len(r), -1) ** 2, axis=1))
    inverse_norm = np.where(norm > TINY, 1 / np.maximum(norm, TINY), 0.0)
    g = operator.adjoint(r, x.shape) * inverse_norm.reshape(column)
    return (g - b * np.asarray(eps_vjp(x, t, g), np.float64)) / a
