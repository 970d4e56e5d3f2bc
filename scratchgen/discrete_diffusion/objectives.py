"""The training objectives of discrete diffusion, each a bound's term per example (n,).

Symbols: x_0 the clean sequence (n, L) of data tokens, x_t its noised version, p0 = p_theta(x_0
| x_t) the network's denoiser (n, L, V) (its probabilities over the clean token at each
position), s = s_theta(x_t, t) its concrete score (n, L, S), alpha_t and sigma(t) the noise of
``Graph``.

- ``reverse_step`` / ``d3pm_kl``: the discrete-time chain of D3PM (Austin et al. 2021) in the
  x_0-parametrisation, for s < t,

      p_theta(x_s | x_t) = sum_{x_0} q(x_s | x_t, x_0) p0(x_0),
      q(x_s | x_t, x_0) ∝ q(x_t | x_s) q(x_s | x_0),
      q(x_t | x_s) = r [x_t = x_s] + (1 - r) pi(x_t),

  r = alpha_t / alpha_s, and its bound's term KL(q(x_s | x_t, x_0) || p_theta(x_s | x_t))
  (eq. 1; at s = 0 the posterior is x_0 itself and the term is the decoder's
  -log p_theta(x_0 | x_t)). The paper's eq. 4 weights x_0 by q(x_s, x_t | x_0) instead of
  q(x_s | x_t, x_0): the same for the absorbing graph (q(mask | x_0) is one number for every
  x_0), while for the uniform graph only the form here turns the true posterior p(x_0 | x_t)
  into the true one-token reverse step, which the tests use.
- ``masked_cross_entropy``: the continuous-time limit of the absorbing chain's bound (MDLM,
  Sahoo et al. 2024, eq. 10; Shi et al. 2024, eq. 5), the integrand at time t

      (-alpha'_t / (1 - alpha_t)) sum_{l: x_t^l = mask} -log p0(x_0^l),

  whose integral over t in (0, 1] bounds -log p(x_0).
- ``score_entropy``: SEDD's denoising score entropy (Lou, Meng & Ermon 2024, eq. 9 and the
  ELBO of theorem 3.6), the integrand at time t

      sum_l sum_{v != x_t^l} sigma(t) G[v, x_t^l] (s_v - r_v log s_v + K(r_v)),
      r_v = q(v | x_0^l) / q(x_t^l | x_0^l),   K(a) = a (log a - 1),

  weighted by the rate G[v, x_t] = pi(x_t) at which the forward chain enters x_t from v. It is
  at least 0, with equality exactly when s is the true ratio r (a Bregman divergence of
  s -> s log s), and for the absorbing graph with s = (alpha_t / (1 - alpha_t)) p0 it equals
  ``masked_cross_entropy`` term by term.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.discrete_diffusion.graphs import Graph, _per_row

Array = np.ndarray


def _padded(graph: Graph, p0: Any) -> Any:
    """Probabilities over the V data tokens as S states (the mask, if any, with mass 0)."""
    if graph.S == graph.V:
        return p0
    widths = [(0, 0)] * (p0.ndim - 1) + [(0, 1)]
    return ad.pad(p0, widths) if isinstance(p0, Tensor) else np.pad(p0, widths)


def forward_factor(graph: Graph, x_t: Array, alpha_s: Any, alpha_t: Any) -> Array:
    """q(x_t | x_s) as a function of x_s, (n, L, S): r [x_s = x_t] + (1 - r) pi(x_t) with
    r = alpha_t / alpha_s (alpha_s > 0)."""
    r = _per_row(np.asarray(alpha_t) / np.asarray(alpha_s), np.ndim(x_t))[..., None]
    return r * graph.one_hot(x_t) + (1 - r) * graph.pi[x_t][..., None]


def reverse_step(graph: Graph, p0: Any, x_t: Array, alpha_s: Any, alpha_t: Any) -> Any:
    """p(x_s | x_t) = sum_{x_0} q(x_s | x_t, x_0) p0(x_0), (n, L, S), up to normalisation (it
    sums to the mass p0 puts on the x_0 that could have become x_t):

        q(x_t | x_s) * (alpha_s w + (1 - alpha_s) pi sum(w))(x_s),   w = p0 / q(x_t | x_0).

    With p0 the one-hot x_0 it is the posterior q(x_s | x_t, x_0); with the network's
    denoiser, the model's step (ndarray or Tensor, as p0 is)."""
    n_axes = np.ndim(x_t)
    a_s = _per_row(np.asarray(alpha_s, dtype=np.float64), n_axes)[..., None]
    a_t = _per_row(np.asarray(alpha_t, dtype=np.float64), n_axes)[..., None]
    q_xt = a_t * graph.one_hot(x_t)[..., : graph.V] + (1 - a_t) * graph.pi[x_t][..., None]
    inverse = np.where(q_xt > 0, 1.0 / np.where(q_xt > 0, q_xt, 1.0), 0.0)  # 0: x_0 impossible
    factor = forward_factor(graph, x_t, alpha_s, alpha_t)
    if isinstance(p0, Tensor):
        w = p0 * inverse.astype(p0.dtype)
        total = ad.sum(w, axis=-1, keepdims=True)
        prior = _padded(graph, w) * a_s.astype(p0.dtype) + total * ((1 - a_s) * graph.pi).astype(
            p0.dtype
        )
        return prior * factor.astype(p0.dtype)
    w = p0 * inverse
    return factor * (a_s * _padded(graph, w) + (1 - a_s) * graph.pi * w.sum(axis=-1, keepdims=True))


def d3pm_kl(graph: Graph, log_p0: Tensor, x0: Array, x_t: Array, alpha_s: Any,
            alpha_t: Any) -> Tensor:  # fmt: skip
    """sum over positions of KL(q(x_s | x_t, x_0) || p_theta(x_s | x_t)), per example (n,);
    ``log_p0`` (n, L, V) is the network's log p0 at x_t."""
    q = reverse_step(graph, graph.one_hot(x0)[..., : graph.V], x_t, alpha_s, alpha_t)
    q = q / q.sum(axis=-1, keepdims=True)
    p = reverse_step(graph, ad.exp(log_p0), x_t, alpha_s, alpha_t)
    support = q > 0  # p > 0 there too; elsewhere log p may be -inf and q log p must stay 0
    log_p = ad.log(ad.where(support, p, 1.0)) - ad.log(ad.sum(p, axis=-1, keepdims=True))
    entropy_term = np.sum(
        np.where(support, q * np.log(np.where(support, q, 1.0)), 0.0), axis=(1, 2)
    )
    cross = ad.sum(log_p * q.astype(log_p0.dtype), axis=(1, 2))
    return entropy_term.astype(log_p0.dtype) - cross


def masked_cross_entropy(graph: Graph, log_p0: Tensor, x0: Array, x_t: Array,
                         t: Array) -> Tensor:  # fmt: skip
    """(-alpha'_t / (1 - alpha_t)) sum over masked positions of -log p0(x_0), per example (n,),
    for the absorbing graph (alpha_t = 1 - t: the weight 1 / t)."""
    if not graph.absorbing:
        raise ValueError("the masked cross-entropy is the absorbing graph's bound")
    weight = (1.0 - graph.eps) / (1.0 - graph.alpha(t))
    nll = -ad.take_along_axis(log_p0, np.asarray(x0)[..., None].astype(np.int64), -1)[..., 0]
    masked = (np.asarray(x_t) == graph.mask).astype(log_p0.dtype)
    return ad.sum(nll * masked, axis=1) * weight.astype(log_p0.dtype)


def score_entropy(graph: Graph, log_s: Tensor, x0: Array, x_t: Array, t: Array) -> Tensor:
    """The denoising score entropy at time t, per example (n,); ``log_s`` (n, L, S) is the
    network's log s_theta(x_t, t)_v (its entries at v = x_t, and at the mask, unused)."""
    x0, x_t = np.asarray(x0), np.asarray(x_t)
    q = graph.marginal(x0, t)  # (n, L, S): q(v | x_0) at every v
    q_xt = np.take_along_axis(q, x_t[..., None], -1)
    r = q / q_xt
    others = 1.0 - graph.one_hot(x_t)  # v != x_t
    if graph.absorbing:
        others[..., graph.mask] = 0.0  # the mask is never a clean token's neighbour backwards
    weight = _per_row(graph.sigma(t), 2)[..., None] * graph.pi[x_t][..., None] * others
    constant = np.sum(weight * _k(r), axis=(1, 2))
    dtype = log_s.dtype
    log_s = ad.where(weight > 0, log_s, 0.0)  # unused entries may hold -inf
    terms = (ad.exp(log_s) - log_s * r.astype(dtype)) * weight.astype(dtype)
    return ad.sum(terms, axis=(1, 2)) + constant.astype(dtype)


def _k(a: Array) -> Array:
    """K(a) = a (log a - 1), with K(0) = 0."""
    return np.where(a > 0, a * (np.log(np.where(a > 0, a, 1.0)) - 1.0), 0.0)
