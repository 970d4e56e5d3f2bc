"""Reverse-time samplers of discrete diffusion, from x_1 ~ pi^L down to t = 0 on the grid
t_k = t_max (1 - k / steps).

- ``x0_ancestral``: the x_0-parametrised chain, x_s ~ p_theta(x_s | x_t) ∝ q(x_t | x_s)
  (alpha_s p0 + (1 - alpha_s) pi)(x_s) (``objectives.reverse_step``; D3PM, Austin et al. 2021,
  eq. 4, and MDLM's sampler, Sahoo et al. 2024, eq. 7), with denoiser(x_t, t) -> p0 (n, L, V).
- ``euler``: tau-leaping on the reverse chain's rates (Lou, Meng & Ermon 2024, eq. 18 with the
  Euler step of section 4.2): a token at x moves to v != x with probability
  (sigma_bar(t) - sigma_bar(s)) G[v, x] s_v, and stays otherwise.
- ``analytic``: the "Tweedie" step (their eq. 19, theorem 4.2), exact for one token when s is
  the true ratio:

      p(x_s = y | x_t = x) ∝ exp(D G)[y, x] * sum_z s_z exp(-D G)[z, y],
      D = sigma_bar(t) - sigma_bar(s),

  with s_x = 1; negative values (a score that is not the true ratio) are clipped to 0.

The score samplers take score(x_t, t) -> s (n, L, S), the ratios p_t(v at l) / p_t(x_t): its
entries at x_t are ignored. Under the absorbing graph the ratios are 0 at t = 1 and the rate
infinite, so these start at ``t_max = 1 - 1e-3`` (a token is unmasked there with probability
1e-3: starting all mask is that close to exact); the last step reaches t = 0, where no mask may
remain. ``given`` tokens at the ``known`` positions ((L,) or (n, L) booleans) are kept at every
step (prefix prompts and infilling). Each returns the tokens (n, L), then with
``return_trajectory`` the states after every step (the start included).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scratchgen.discrete_diffusion.graphs import Graph
from scratchgen.discrete_diffusion.objectives import reverse_step

Array = np.ndarray
Denoiser = Callable[[Array, Array], Array]  # (x_t (n, L), t (n,)) -> p0 (n, L, V)
Score = Callable[[Array, Array], Array]  # (x_t (n, L), t (n,)) -> s (n, L, S)
ABSORBING_START = 1.0 - 1e-3


def time_grid(steps: int, t_max: float = 1.0) -> Array:
    """steps + 1 times from t_max down to 0."""
    if steps < 1:
        raise ValueError(f"a sampler needs at least one step, got {steps}")
    return np.linspace(t_max, 0.0, steps + 1)


def _draw(p: Array, rng: np.random.Generator) -> Array:
    """One state per row of p (..., S), by inverting the CDF; p need not be normalised."""
    p = np.clip(p, 0.0, None)
    cdf = np.cumsum(p, axis=-1)
    u = rng.random(p.shape[:-1] + (1,)) * cdf[..., -1:]
    return np.minimum((cdf <= u).sum(axis=-1), p.shape[-1] - 1)


def _start(graph: Graph, shape: tuple, rng: np.random.Generator, given: Array | None,
           known: Array | None) -> tuple[Array, Array | None, Array | None]:  # fmt: skip
    x = graph.sample_pi(shape, rng)
    if given is None:
        return x, None, None
    given = np.broadcast_to(given, shape)
    known = np.broadcast_to(np.asarray(known, dtype=bool), shape)
    return np.where(known, given, x), given, known


def _run(graph: Graph, step: Callable, shape: tuple, rng: np.random.Generator, times: Array,
         given: Array | None, known: Array | None,
         return_trajectory: bool) -> Array | tuple[Array, list]:  # fmt: skip
    x, given, known = _start(graph, shape, rng, given, known)
    trajectory = [x.copy()]
    for t, s in zip(times[:-1], times[1:]):
        x = step(x, np.full(shape[0], t), s)
        if given is not None:
            x = np.where(known, given, x)
        trajectory.append(x.copy())
    return (x, trajectory) if return_trajectory else x


def x0_ancestral(graph: Graph, denoiser: Denoiser, shape: tuple, rng: np.random.Generator,
                 steps: int, given: Array | None = None, known: Array | None = None,
                 return_trajectory: bool = False) -> Array | tuple[Array, list]:  # fmt: skip
    """The x_0-parametrised reverse chain on ``steps`` equal steps from t = 1."""

    def step(x: Array, t: Array, s: float) -> Array:
        p = reverse_step(graph, denoiser(x, t), x, graph.alpha(s), graph.alpha(t))
        return _draw(p, rng)

    return _run(graph, step, shape, rng, time_grid(steps), given, known, return_trajectory)


def _score_start(graph: Graph, t_max: float | None) -> float:
    return (ABSORBING_START if graph.absorbing else 1.0) if t_max is None else t_max


def _no_mask_at_zero(graph: Graph, p: Array, s: float) -> Array:
    if graph.absorbing and s == 0:
        p[..., graph.mask] = 0.0
    return p


def euler(graph: Graph, score: Score, shape: tuple, rng: np.random.Generator, steps: int,
          given: Array | None = None, known: Array | None = None, t_max: float | None = None,
          return_trajectory: bool = False) -> Array | tuple[Array, list]:  # fmt: skip
    """Tau-leaping: jump probabilities D G[v, x] s_v, D the step's integrated rate."""
    G = graph.generator()

    def step(x: Array, t: Array, s: float) -> Array:
        D = float(graph.sigma_bar(t[0]) - graph.sigma_bar(s))
        p = D * G[:, x].transpose(1, 2, 0) * score(x, t)  # G[v, x] s_v, (n, L, S)
        np.put_along_axis(p, x[..., None], 0.0, axis=-1)
        stay = 1.0 - np.clip(p, 0.0, None).sum(axis=-1, keepdims=True)
        np.put_along_axis(p, x[..., None], np.clip(stay, 0.0, None), axis=-1)
        return _draw(_no_mask_at_zero(graph, p, s), rng)

    times = time_grid(steps, _score_start(graph, t_max))
    return _run(graph, step, shape, rng, times, given, known, return_trajectory)


def analytic(graph: Graph, score: Score, shape: tuple, rng: np.random.Generator, steps: int,
             given: Array | None = None, known: Array | None = None,
             t_max: float | None = None,
             return_trajectory: bool = False) -> Array | tuple[Array, list]:  # fmt: skip
    """The analytic (Tweedie) step: exp(D G)[y, x] (s exp(-D G))[y]."""

    def step(x: Array, t: Array, s: float) -> Array:
        return _draw(analytic_step(graph, score(x, t), x, float(t[0]), s), rng)

    times = time_grid(steps, _score_start(graph, t_max))
    return _run(graph, step, shape, rng, times, given, known, return_trajectory)


def analytic_step(graph: Graph, ratios: Array, x: Array, t: float, s: float) -> Array:
    """p(x_s | x_t = x) of the analytic step, (n, L, S), normalised (clipped at 0; no mask at
    s = 0): also the decoder of the score models' bounds, from their smallest time to 0."""
    D = float(graph.sigma_bar(t) - graph.sigma_bar(s))
    ratios = np.array(ratios, dtype=np.float64)
    np.put_along_axis(ratios, x[..., None], 1.0, axis=-1)
    p = graph.transition(D)[:, x].transpose(1, 2, 0) * (ratios @ graph.transition(-D))
    p = np.clip(_no_mask_at_zero(graph, p, s), 0.0, None)
    return p / p.sum(axis=-1, keepdims=True)


SAMPLERS = {"euler": euler, "analytic": analytic}
