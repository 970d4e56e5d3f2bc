"""Samplers of a score-based model from its score score_fn(x, t) ~ grad log p_t(x), t a float
array (n,), following Song et al. 2021 ("Score-Based Generative Modeling through SDEs"):

- ``euler_maruyama``: the reverse SDE (eq. 6) by Euler-Maruyama;
- ``predictor_corrector``: a predictor step of the reverse SDE (reverse diffusion, the SDE's
  own discretisation, or Euler-Maruyama) and ``corrector_steps`` Langevin corrections toward
  p_t at a target signal-to-noise ratio (algorithms 1-5, appendix G);
- ``probability_flow_ode``: the ODE dx/dt = f - 1/2 g^2 s (eq. 13) by scipy's adaptive
  Runge-Kutta (``solve_ivp``), and ``probability_flow_heun``: the same by fixed Heun steps.

The reverse-time samplers run on the grid t_0 = T > t_1 > ... > t_N = eps, evenly spaced, and
stop at eps rather than at 0, where the score of data on a grid (or a manifold) blows up:
``eps=None`` takes the SDE's ``sampling_eps`` (1e-3 for VP and sub-VP, 1e-5 for VE, as the
paper's code). The stochastic samplers return the last step's mean, without its noise (the
paper's "denoising" of the final sample).

Each returns the samples (float64), then with ``return_trajectory`` the states (the start
included), then with ``return_nfe`` the number of score_fn calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from scipy import integrate

from scratchgen.diffusion.run import Run, start
from scratchgen.diffusion.sde import SDE, _column

Array = np.ndarray
ScoreFn = Callable[[Array, Array], Array]
TRAJECTORY_POINTS = 101  # states the ODE solvers report when a trajectory is asked for


def _grid(sde: SDE, steps: int, eps: float | None, name: str) -> Array:
    eps = sde.sampling_eps if eps is None else eps
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{name}: steps must be a positive integer, got {steps!r}")
    if not 0 < eps < sde.T:
        raise ValueError(f"{name}: eps must lie in (0, {sde.T}), got {eps}")
    return np.linspace(sde.T, eps, steps + 1)


def _norms(a: Array) -> Array:
    return np.sqrt(np.sum(a.reshape(len(a), -1) ** 2, axis=1))


def reverse_diffusion_step(sde: SDE, run: Run, x: Array, t: Array, dt: float,
                           rng: np.random.Generator) -> tuple[Array, Array]:  # fmt: skip
    """The reverse of the SDE's own discrete chain (Song et al. 2021, eq. 46):
    x' = x - f_i + G_i^2 s(x, t) + G_i z with (f_i, G_i) = ``sde.discretize(x, t, dt)``.
    Returns (x', its mean)."""
    f, G = sde.discretize(x, t, dt)
    mean = x - f + _column(G**2, x) * run(x, t)
    return mean + _column(G, x) * rng.standard_normal(x.shape), mean


def euler_maruyama_step(sde: SDE, run: Run, x: Array, t: Array, dt: float,
                        rng: np.random.Generator) -> tuple[Array, Array]:  # fmt: skip
    """x' = x - [f - g^2 s] dt + g sqrt(dt) z, one step of the reverse SDE back by dt.
    Returns (x', its mean)."""
    mean = x - sde.reverse_drift(x, t, run(x, t)) * dt
    _, g = sde.sde(x, t)
    return mean + _column(g * np.sqrt(dt), x) * rng.standard_normal(x.shape), mean


PREDICTORS = {"reverse_diffusion": reverse_diffusion_step, "euler_maruyama": euler_maruyama_step}


def langevin_correction(sde: SDE, run: Run, x: Array, t: Array, dt: float, snr: float,
                        rng: np.random.Generator) -> tuple[Array, Array]:  # fmt: skip
    """One Langevin step toward p_t whose step size sets the signal-to-noise ratio
    ||eps s|| / ||sqrt(2 eps) z|| to r / sqrt(2) (Song et al. 2021, algorithms 4-5):

        eps = 2 alpha (r ||z|| / ||s(x, t)||)^2,   x' = x + eps s(x, t) + sqrt(2 eps) z

    with alpha = 1 - beta_i for VP and sub-VP (algorithm 5; ``VPSDE.discrete_beta``) and 1
    for VE, and the norms
    averaged over the chains, as the paper's code does, for one step size for all. (Per chain,
    as the algorithms write it, the ratio ||z||^2 / ||s||^2 is heavy-tailed in few dimensions,
    an F(D, D) variable: in 2-D some chains take huge steps and the samples blow up.)
    Returns (x', its mean)."""
    s = run(x, t)
    z = rng.standard_normal(x.shape)
    alpha = float(sde.corrector_alpha(t[:1], dt)[0])
    step = 2 * alpha * (snr * _norms(z).mean() / max(_norms(s).mean(), 1e-300)) ** 2
    mean = x + step * s
    return mean + np.sqrt(2 * step) * z, mean


def euler_maruyama(sde: SDE, score_fn: ScoreFn, shape: Any, rng: np.random.Generator,
                   steps: int = 1000, eps: float | None = None, x_T: Array | None = None,
                   return_trajectory: bool = False, return_nfe: bool = False) -> Any:  # fmt: skip
    """The reverse SDE dx = [f - g^2 s] dt + g dW_bar by Euler-Maruyama, from x_T ~ the prior
    (or ``x_T``) at T down to eps in ``steps`` steps; ``steps`` calls of score_fn."""
    return predictor_corrector(sde, score_fn, shape, rng, steps, corrector=None, eps=eps,
                               predictor="euler_maruyama", x_T=x_T,
                               return_trajectory=return_trajectory,
                               return_nfe=return_nfe)  # fmt: skip


def predictor_corrector(sde: SDE, score_fn: ScoreFn, shape: Any, rng: np.random.Generator,
                        steps: int = 1000, snr: float = 0.16, corrector_steps: int = 1,
                        predictor: Literal["reverse_diffusion", "euler_maruyama"] | None
                        = "reverse_diffusion", corrector: Literal["langevin"] | None = "langevin",
                        eps: float | None = None, x_T: Array | None = None,
                        return_trajectory: bool = False,
                        return_nfe: bool = False) -> Any:  # fmt: skip
    """Song et al. 2021, algorithm 1 (appendix G): at each t_i of the grid, ``corrector_steps``
    Langevin corrections at signal-to-noise ratio ``snr`` (0.16 is the paper's for VE on
    CIFAR-10), then one predictor step to t_{i+1}. ``predictor=None`` leaves the corrector
    alone (NCSN's annealed Langevin in the SDE's time), ``corrector=None`` the predictor alone.
    (1 + corrector_steps) score_fn calls per step."""
    name = "predictor_corrector"
    grid = _grid(sde, steps, eps, name)
    if predictor is not None and predictor not in PREDICTORS:
        raise ValueError(f"{name}: predictor must be one of {sorted(PREDICTORS)} or None, got "
                         f"{predictor!r}")  # fmt: skip
    if corrector not in ("langevin", None):
        raise ValueError(f"{name}: corrector must be 'langevin' or None, got {corrector!r}")
    if predictor is None and corrector is None:
        raise ValueError(f"{name}: give a predictor, a corrector or both")
    x = start(shape, rng, name, scale=sde.prior_std, x_T=x_T)
    run, n = Run(score_fn, x, name, return_trajectory), len(x)
    mean = x
    for i in range(steps):
        t, dt = np.full(n, grid[i]), grid[i] - grid[i + 1]
        for _ in range(corrector_steps if corrector else 0):
            x, _ = langevin_correction(sde, run, x, t, dt, snr, rng)
        # the denoised end is the predictor's mean; a corrector's mean is no sample of p_t
        mean = x
        if predictor is not None:
            x, mean = PREDICTORS[predictor](sde, run, x, t, dt, rng)
        run.keep(mean if i == steps - 1 else x)
    return run.result(mean, return_trajectory, return_nfe)


def _flow(sde: SDE, run: Run, shape: tuple[int, ...]) -> Callable[[float, Array], Array]:
    """The probability-flow ODE's right-hand side on a flat state, for ``solve_ivp``."""

    def velocity(t: float, y: Array) -> Array:
        x = y.reshape(shape)
        times = np.full(shape[0], t)
        return sde.reverse_drift(x, times, run(x, times), probability_flow=True).ravel()

    return velocity


def probability_flow_ode(sde: SDE, score_fn: ScoreFn, shape: Any, rng: np.random.Generator,
                         rtol: float = 1e-5, atol: float = 1e-5, method: str = "RK45",
                         eps: float | None = None, x_T: Array | None = None,
                         return_trajectory: bool = False,
                         return_nfe: bool = False) -> Any:  # fmt: skip
    """dx/dt = f(x, t) - 1/2 g(t)^2 s(x, t) (Song et al. 2021, eq. 13) from x_T ~ the prior
    at T to eps, by ``scipy.integrate.solve_ivp`` (RK45 with the paper's tolerances
    rtol = atol = 1e-5 by default; the step size adapts, so the NFE is the solver's). All
    chains are integrated as one system, sharing the solver's steps. The trajectory holds
    the state at TRAJECTORY_POINTS evenly spaced times."""
    name = "probability_flow_ode"
    grid = _grid(sde, TRAJECTORY_POINTS - 1, eps, name)
    x = start(shape, rng, name, scale=sde.prior_std, x_T=x_T)
    run = Run(score_fn, x, name, False)
    solution = integrate.solve_ivp(_flow(sde, run, x.shape), (grid[0], grid[-1]), x.ravel(),
                                   method=method, rtol=rtol, atol=atol,
                                   t_eval=grid if return_trajectory else None)  # fmt: skip
    if not solution.success:
        raise RuntimeError(f"{name}: the ODE solver failed: {solution.message}")
    run.states = [y.reshape(x.shape) for y in solution.y.T] if return_trajectory else None
    return run.result(solution.y[:, -1].reshape(x.shape), return_trajectory, return_nfe)


def probability_flow_heun(sde: SDE, score_fn: ScoreFn, shape: Any, rng: np.random.Generator,
                          steps: int = 100, eps: float | None = None,
                          x_T: Array | None = None, return_trajectory: bool = False,
                          return_nfe: bool = False) -> Any:  # fmt: skip
    """The probability-flow ODE by Heun's second-order method on the evenly spaced grid:
    x~ = x + h v(x, t), x' = x + h/2 (v(x, t) + v(x~, t + h)) with h = t_{i+1} - t_i < 0
    (Karras et al. 2022's choice of ODE solver, here on the plain time grid); 2 calls of
    score_fn per step."""
    name = "probability_flow_heun"
    grid = _grid(sde, steps, eps, name)
    x = start(shape, rng, name, scale=sde.prior_std, x_T=x_T)
    run = Run(score_fn, x, name, return_trajectory)
    velocity = _flow(sde, run, x.shape)
    for t, t_next in zip(grid[:-1], grid[1:]):
        h = t_next - t
        v = velocity(t, x.ravel())
        guess = x.ravel() + h * v
        x = (x.ravel() + h / 2 * (v + velocity(t_next, guess))).reshape(x.shape)
        run.keep(x)
    return run.result(x, return_trajectory, return_nfe)
