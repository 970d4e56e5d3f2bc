"""The exact log-likelihood of a score-based model through its probability-flow ODE (Song et
al. 2021, "Score-Based Generative Modeling through SDEs", appendix D.2).

The ODE dx/dt = v(x, t) = f(x, t) - 1/2 g(t)^2 s(x, t) is a continuous normalising flow from
p_0 to p_T, so by the instantaneous change of variables (Chen et al. 2018, theorem 1)

    log p_0(x(0)) = log p_T(x(T)) + int_0^T div_x v(x(t), t) dt,

solved forwards from the data at t = eps to T alongside x. The drift is linear, f = c(t) x,
so div v = c(t) D - 1/2 g(t)^2 div s, and only the score's divergence needs work: the exact
trace of ds/dx (D directional derivatives), or Hutchinson's estimate z^T (ds/dx) z with one z
drawn per solve (Rademacher, as FFJORD), unbiased for the trace and so, the integral being
linear in it, for the log-likelihood. On plain ndarray functions the directional derivatives
are central differences in float64, (s(x + h u) - s(x - h u)) / 2h, exact for a linear s and
with an O(h^2) error otherwise; a model whose score is a network can pass
``score_divergence`` computed by backpropagation instead.

The result is the model's log-density of p_eps, in nats; for data on a grid it is a density,
not a probability, and ``scratchgen.metrics.dequantized_nll`` turns it into a bound on the
discrete NLL (bits/dim that cannot go negative).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from scipy import integrate

from scratchgen.diffusion.sde import SDE
from scratchgen.diffusion.sde_samplers import ScoreFn

Array = np.ndarray
ScoreDivergence = Callable[[Array, Array, Array | None], Array]
DIFFERENCE_STEP = 1e-4  # h of the central differences, relative to the state's scale


def finite_difference_divergence(score: Callable[[Array, Array], Array]) -> ScoreDivergence:
    """div s(x, t) per example by central differences: with u = None the exact trace (one pair
    of calls per dimension), else the directional u^T (ds/dx) u (one pair)."""

    def divergence(x: Array, t: Array, u: Array | None) -> Array:
        n = len(x)
        h = DIFFERENCE_STEP * (1 + np.sqrt(np.mean(x.reshape(n, -1) ** 2, axis=1)))
        column = h.reshape((-1,) + (1,) * (x.ndim - 1))

        def along(direction: Array) -> Array:
            change = score(x + column * direction, t) - score(x - column * direction, t)
            return np.sum((change * direction).reshape(n, -1), axis=1) / (2 * h)

        if u is not None:
            return along(u)
        total = np.zeros(n)
        for i in range(x[0].size):
            unit = np.zeros(x[0].size)
            unit[i] = 1
            total += along(np.broadcast_to(unit.reshape(x.shape[1:]), x.shape))
        return total

    return divergence


def ode_log_likelihood(sde: SDE, score_fn: ScoreFn, x: Array, rng: np.random.Generator | None
                       = None, trace: Literal["exact", "hutchinson"] = "exact",
                       eps: float | None = None, rtol: float = 1e-5, atol: float = 1e-5,
                       method: str = "RK45", score_divergence: ScoreDivergence | None = None,
                       return_nfe: bool = False) -> Any:  # fmt: skip
    """log p_eps(x) per example (n,), in nats, by the probability-flow ODE from t = eps
    (``sde.likelihood_eps`` = 1e-5 unless given) to T with ``solve_ivp``; with
    ``trace="hutchinson"`` rng draws the Rademacher probe z. ``score_divergence(x, t, z)``,
    when given, replaces the central differences: div s (z None) or z^T (ds/dx) z, (n,).
    With ``return_nfe`` also the number of ODE right-hand-side evaluations."""
    x = np.array(x, dtype=np.float64)
    if x.ndim < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"ode_log_likelihood: x must be finite, (n, D) or (n, C, H, W), got "
                         f"shape {x.shape}")  # fmt: skip
    if trace not in ("exact", "hutchinson"):
        raise ValueError(f"ode_log_likelihood: trace must be 'exact' or 'hutchinson', got "
                         f"{trace!r}")  # fmt: skip
    if trace == "hutchinson" and rng is None:
        raise ValueError("ode_log_likelihood: trace='hutchinson' needs an rng for its probe")
    eps = sde.likelihood_eps if eps is None else eps
    n, size = len(x), x.size

    def score(state: Array, t: Array) -> Array:
        s = np.asarray(score_fn(state, t), dtype=np.float64)
        if s.shape != state.shape:
            raise ValueError(f"ode_log_likelihood: score_fn must return {state.shape}, got "
                             f"{s.shape}")  # fmt: skip
        return s

    score_divergence = score_divergence or finite_difference_divergence(score)
    z = None if trace == "exact" else rng.choice([-1.0, 1.0], size=x.shape)

    def augmented(t: float, y: Array) -> Array:
        state, times = y[:size].reshape(x.shape), np.full(n, t)
        v = sde.reverse_drift(state, times, score(state, times), probability_flow=True)
        div_s = np.asarray(score_divergence(state, times, z), np.float64)
        return np.concatenate([v.ravel(), sde.velocity_divergence(times, div_s, z, x[0].size)])

    start = np.concatenate([x.ravel(), np.zeros(n)])
    solution = integrate.solve_ivp(augmented, (eps, sde.T), start, method=method, rtol=rtol,
                                   atol=atol)  # fmt: skip
    if not solution.success:
        raise RuntimeError(f"ode_log_likelihood: the ODE solver failed: {solution.message}")
    end = solution.y[:, -1]
    log_p = sde.prior_log_prob(end[:size].reshape(x.shape)) + end[size:]
    return (log_p, solution.nfev) if return_nfe else log_p
