"""Brute force over every sequence of a tiny vocabulary and length: exact likelihoods of the
discrete diffusion models and their bounds computed without Monte Carlo, for tests and for
reading the bounds' gaps. N = S^L states; everything here costs O(N^2) and is meant for N in
the tens or hundreds.

- ``chain_nll``: -log p_theta(x_0) of the x_0-parametrised chain on T steps, by multiplying its
  N x N transition matrices from p(x_1) = pi^L;
- ``ctmc_nll``: the same for the reverse continuous-time chain with rates
  sigma(t) G[v, x^l] s_theta(x, t)_{l,v}, by solving its Kolmogorov forward equation
  dp/d tau = p R(1 - tau) (scipy's DOP853) from pi^L at t = 1 to t_min, then the analytic
  decoder from t_min to 0 (``samplers.analytic_step``);
- ``d3pm_bound`` and ``ctmc_bound`` (``decoder_nll`` is its last term): each model's bound,
  every expectation over x_t a sum over the N states, the time integral by Gauss-Legendre;
- ``data_score`` and ``data_denoiser``: the true concrete score p_t(x^{l <- v}) / p_t(x) and
  the true posterior p(x_0^l | x_t) of a known distribution over V^L.

Under the absorbing graph sigma(1) is infinite and the ratios 0 at t = 1; rates there are read
at 1 - 1e-12, where their product has reached its limit to that precision.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

import autodiff as ad
from scratchgen.discrete_diffusion.graphs import Graph
from scratchgen.discrete_diffusion.objectives import d3pm_kl, reverse_step, score_entropy
from scratchgen.discrete_diffusion.samplers import analytic_step

Array = np.ndarray
Fn = Callable[[Array, Array], Array]
LAST = 1.0 - 1e-12


def sequences(states: int, length: int) -> Array:
    """Every sequence over ``states`` tokens, (states^length, length), in lexicographic order."""
    return np.stack(np.unravel_index(np.arange(states**length), (states,) * length), axis=1)


def _index(x: Array, states: int) -> Array:
    return np.ravel_multi_index(tuple(np.moveaxis(x, -1, 0)), (states,) * x.shape[-1])


def _is_data(graph: Graph, X: Array) -> Array:
    return np.all(X < graph.V, axis=1)


def _joint(P: Array, X: Array) -> Array:
    """(N, N) matrix prod_l P[i, l, X[j, l]] from per-position laws P (N, L, S)."""
    return np.prod(P[:, np.arange(X.shape[1])[None, :], X], axis=-1)


def _noised(graph: Graph, x0: Array, t: float, X: Array) -> Array:
    """q(X | x_0) for every state, (N,)."""
    q = graph.marginal(x0, t)  # (L, S)
    return np.prod(q[np.arange(len(x0)), X], axis=1)


def chain_nll(graph: Graph, denoiser: Fn, T: int, length: int) -> Array:
    """-log p_theta(x_0) of the T-step chain for every data sequence (``sequences(V, L)``)."""
    X = sequences(graph.S, length)
    p = np.prod(graph.pi[X], axis=1)
    for k in range(T, 0, -1):
        t, s = k / T, (k - 1) / T
        step = reverse_step(
            graph, denoiser(X, np.full(len(X), t)), X, graph.alpha(s), graph.alpha(t)
        )
        total = step.sum(axis=-1, keepdims=True)  # 0 at states the chain cannot be in at t
        p = p @ _joint(np.divide(step, total, out=np.zeros_like(step), where=total > 0), X)
    return -np.log(p[_is_data(graph, X)])


def d3pm_bound(graph: Graph, denoiser: Fn, x0: Array, T: int) -> Array:
    """The T-step chain's bound for each row of x0: prior KL + sum_k E_q KL_k, (m,)."""
    X = sequences(graph.S, x0.shape[1])
    bounds = graph.prior_kl(x0)
    for k in range(1, T + 1):
        t, s = k / T, (k - 1) / T
        with np.errstate(divide="ignore"):  # the true posterior is 0 off the data: log 0 = -inf
            log_p0 = ad.Tensor(np.log(denoiser(X, np.full(len(X), t))))
        for row, x in enumerate(x0):
            q = _noised(graph, x, t, X)
            seen = q > 0
            with ad.no_grad():
                kl = d3pm_kl(graph, log_p0[seen], np.broadcast_to(x, X[seen].shape), X[seen],
                             graph.alpha(s), graph.alpha(t)).data  # fmt: skip
            bounds[row] += q[seen] @ kl
    return bounds


def _rates(graph: Graph, score: Fn, X: Array, t: float) -> Array:
    """The reverse chain's generator at t, (N, N)."""
    N, L = X.shape
    s = score(X, np.full(N, min(t, LAST))).astype(np.float64)
    rate = graph.sigma(min(t, LAST)) * graph.generator()[:, X].transpose(1, 2, 0) * s
    neighbours = np.repeat(X[:, None, :], graph.S, axis=1)  # (N, S, L): x with l <- v
    R = np.zeros((N, N))
    for l in range(L):
        moved = neighbours.copy()
        moved[:, :, l] = np.arange(graph.S)
        j = _index(moved, graph.S)  # (N, S)
        r = np.where(np.arange(graph.S)[None, :] == X[:, l : l + 1], 0.0, rate[:, l, :])
        np.add.at(R, (np.arange(N)[:, None], j), r)
    return R - np.diag(R.sum(axis=1))


def ctmc_nll(graph: Graph, score: Fn, length: int, t_min: float) -> Array:
    """-log p_theta(x_0) of the reverse chain run from pi^L at t = 1 to t_min and decoded to 0,
    for every data sequence (``sequences(V, L)``)."""
    X = sequences(graph.S, length)
    p1 = np.prod(graph.pi[X], axis=1)
    solution = solve_ivp(lambda tau, p: p @ _rates(graph, score, X, 1.0 - tau), (0.0, 1.0 - t_min),
                         p1, method="DOP853", rtol=1e-11, atol=1e-13)  # fmt: skip
    p = solution.y[:, -1]
    decoder = analytic_step(graph, score(X, np.full(len(X), t_min)), X, t_min, 0.0)
    return -np.log(p @ _joint(decoder, X)[:, _is_data(graph, X)])


def ctmc_bound(graph: Graph, score: Fn, x0: Array, t_min: float, nodes: int = 200) -> Array:
    """The continuous bound for each row of x0, (m,):

        int_{t_min}^1 E_q DSE dt + KL(q(x_1 | x_0) || pi^L) + E_{q(x_{t_min} | x_0)} -log dec(x_0),

    dec the analytic step from t_min to 0 (the bound is one on ``ctmc_nll``'s likelihood)."""
    X = sequences(graph.S, x0.shape[1])
    u, w = np.polynomial.legendre.leggauss(nodes)
    times, weights = t_min + (1 - t_min) * (u + 1) / 2, w * (1 - t_min) / 2
    bounds = graph.prior_kl(x0)
    for t, weight in zip(times, weights):
        with np.errstate(divide="ignore"):  # an exact ratio may be 0: its log is -inf
            log_s = ad.Tensor(np.log(score(X, np.full(len(X), t)).astype(np.float64)))
        for row, x in enumerate(x0):
            q = _noised(graph, x, t, X)
            seen = q > 0
            with ad.no_grad():
                dse = score_entropy(graph, log_s[seen], np.broadcast_to(x, X[seen].shape),
                                    X[seen], np.full(seen.sum(), t)).data  # fmt: skip
            bounds[row] += weight * (q[seen] @ dse)
    return bounds + decoder_nll(graph, score, x0, t_min)


def decoder_nll(graph: Graph, score: Fn, x0: Array, t_min: float) -> Array:
    """E_{q(x_{t_min} | x_0)} -log dec(x_0 | x_{t_min}) for each row of x0, (m,)."""
    X = sequences(graph.S, x0.shape[1])
    decoder = analytic_step(graph, score(X, np.full(len(X), t_min)), X, t_min, 0.0)
    out = np.zeros(len(x0))
    for row, x in enumerate(x0):
        q = _noised(graph, x, t_min, X)
        seen = q > 0
        out[row] = -q[seen] @ np.log(np.prod(decoder[seen][:, np.arange(len(x)), x], axis=1))
    return out


def _noised_joint(graph: Graph, p_data: Array, length: int, t: float) -> tuple[Array, Array]:
    """(q(x_t | x_0) over data x_0 rows and all states columns, p_t over all states)."""
    X, X0 = sequences(graph.S, length), sequences(graph.V, length)
    Q = _joint(np.broadcast_to(graph.marginal(X0, t), (len(X0), length, graph.S)), X)
    return Q, p_data @ Q


def data_score(graph: Graph, p_data: Array, length: int) -> Fn:
    """The true concrete score s(x, t)_{l,v} = p_t(x^{l <- v}) / p_t(x) of ``p_data`` over
    ``sequences(V, L)``, as a score function of (x (n, L), t (n,)); t is read from t[0]."""

    def score(x: Array, t: Array) -> Array:
        _, p_t = _noised_joint(graph, p_data, length, float(t[0]))
        moved = np.repeat(x[:, None, None, :], length, axis=1).repeat(graph.S, axis=2)
        for l in range(length):
            moved[:, l, :, l] = np.arange(graph.S)
        ratio = p_t[_index(moved, graph.S)] / p_t[_index(x, graph.S)][:, None, None]
        return np.nan_to_num(ratio, nan=0.0)

    return score


def data_denoiser(graph: Graph, p_data: Array, length: int) -> Fn:
    """The true posterior p(x_0^l = v | x_t) of ``p_data``, as a denoiser of (x, t)."""
    X0 = sequences(graph.V, length)

    def denoiser(x: Array, t: Array) -> Array:
        Q, p_t = _noised_joint(graph, p_data, length, float(t[0]))
        columns = _index(x, graph.S)
        p_x = np.where(p_t[columns] > 0, p_t[columns], 1.0)  # p_t = 0: a state never reached
        posterior = p_data[:, None] * Q[:, columns] / p_x  # (|X0|, n)
        return np.stack(
            [posterior.T @ (X0[:, l : l + 1] == np.arange(graph.V)) for l in range(length)], axis=1
        )

    return denoiser
