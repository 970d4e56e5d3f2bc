"""Integrating a velocity field, dx/dt = v(x, t), on plain ndarrays: the samplers of flow
matching and rectified flow, and the log-likelihood of the flow they define.

``integrate`` carries a batch from t0 to t1 by

- Euler's method, x' = x + h v(x, t): one call of v a step, error O(h) (a straight path is
  integrated exactly, whatever h: what rectified flow aims for);
- Heun's method, x~ = x + h v(x, t), x' = x + h/2 (v(x, t) + v(x~, t + h)): two calls a
  step, error O(h^2);
- ``scipy.integrate.solve_ivp`` (RK45 by default) with an adaptive step at rtol and atol.

Each returns the number of function evaluations (NFE), the cost that fast samplers count; all
chains are one system, so an adaptive solver takes the steps the hardest chain needs.

``log_likelihood`` is the instantaneous change of variables (Chen et al. 2018, theorem 1): a
sample x(1) of the flow started from p_0 at t = 0 has

    log p_1(x(1)) = log p_0(x(0)) - int_0^1 div_x v(x(t), t) dt,

solved backwards from the data at t = 1 to t = 0 alongside x, with the divergence given as a
function (exact by D backward passes, or Hutchinson's estimate, ``scratchgen.traces``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from scipy import integrate as scipy_integrate

Array = np.ndarray
Velocity = Callable[[Array, Array], Array]  # v(x, t), t of shape (n,)
Divergence = Callable[[Array, Array], Array]  # div_x v(x, t), (n,)
SOLVERS = ("euler", "heun", "adaptive")


class _Counted:
    """v with its calls counted and its output checked against the state's shape."""

    def __init__(self, velocity: Velocity, name: str) -> None:
        self.velocity, self.name, self.calls = velocity, name, 0

    def __call__(self, x: Array, t: float) -> Array:
        self.calls += 1
        v = np.asarray(self.velocity(x, np.full(len(x), t)), dtype=np.float64)
        if v.shape != x.shape:
            raise ValueError(f"{self.name}: the velocity must have the state's shape {x.shape}, "
                             f"got {v.shape}")  # fmt: skip
        return v


def integrate(velocity: Velocity, x: Array, t0: float = 0.0, t1: float = 1.0,
              solver: Literal["euler", "heun", "adaptive"] = "euler", steps: int = 100,
              rtol: float = 1e-5, atol: float = 1e-5,
              return_trajectory: bool = False) -> Any:  # fmt: skip
    """x(t1) from x(t0) = x under dx/dt = v(x, t), and the NFE: (x1, nfe), or (x1, nfe,
    trajectory) with ``return_trajectory`` (the state at each step's end, x(t0) first; the
    adaptive solver's at ``steps`` + 1 evenly spaced times)."""
    if solver not in SOLVERS:
        raise ValueError(f"integrate: solver must be one of {SOLVERS}, got {solver!r}")
    if int(steps) < 1:
        raise ValueError(f"integrate: steps must be at least 1, got {steps}")
    x = np.array(x, dtype=np.float64)
    v = _Counted(velocity, "integrate")
    times = np.linspace(t0, t1, int(steps) + 1)
    if solver == "adaptive":

        def flat(t: float, y: Array) -> Array:
            return v(y.reshape(x.shape), t).ravel()

        kept = times if return_trajectory else None
        solution = scipy_integrate.solve_ivp(flat, (t0, t1), x.ravel(), rtol=rtol, atol=atol,
                                             t_eval=kept)  # fmt: skip
        if not solution.success:
            raise RuntimeError(f"integrate: the ODE solver failed: {solution.message}")
        states = [y.reshape(x.shape) for y in solution.y.T]
        end = solution.y[:, -1].reshape(x.shape)
    else:
        states = [x]
        for t, t_next in zip(times[:-1], times[1:]):
            h = t_next - t
            slope = v(x, t)
            if solver == "heun":
                slope = (slope + v(x + h * slope, t_next)) / 2
            x = x + h * slope
            states.append(x)
        end = x
    return (end, v.calls, states) if return_trajectory else (end, v.calls)


def log_likelihood(velocity: Velocity, divergence: Divergence, x1: Array,
                   base_log_prob: Callable[[Array], Array], rtol: float = 1e-5,
                   atol: float = 1e-5) -> tuple[Array, int]:  # fmt: skip
    """log p_1(x1) per example (n,), in nats, for the flow from p_0 (``base_log_prob``) at t = 0
    to t = 1, by RK45 backwards from t = 1; and the NFE."""
    x1 = np.array(x1, dtype=np.float64)
    if x1.ndim < 2 or not np.all(np.isfinite(x1)):
        raise ValueError(f"log_likelihood: x1 must be finite, (n, D) or (n, C, H, W), got "
                         f"shape {x1.shape}")  # fmt: skip
    n, size = len(x1), x1.size
    v = _Counted(velocity, "log_likelihood")

    def augmented(t: float, y: Array) -> Array:
        x = y[:size].reshape(x1.shape)
        return np.concatenate([v(x, t).ravel(), np.asarray(divergence(x, np.full(n, t)))])

    start = np.concatenate([x1.ravel(), np.zeros(n)])
    solution = scipy_integrate.solve_ivp(augmented, (1.0, 0.0), start, rtol=rtol, atol=atol)
    if not solution.success:
        raise RuntimeError(f"log_likelihood: the ODE solver failed: {solution.message}")
    end = solution.y[:, -1]
    # the integral from 1 down to 0 of div v is minus the one from 0 to 1
    return base_log_prob(end[:size].reshape(x1.shape)) + end[size:], v.calls
