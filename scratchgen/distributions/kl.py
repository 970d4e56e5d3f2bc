"""``kl_divergence(p, q)``: KL(p || q) = E_p[log p(x) - log q(x)] in closed form, by a
registry of (type of p, type of q) pairs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions.bernoulli import Bernoulli
from scratchgen.distributions.categorical import Categorical
from scratchgen.distributions.distribution import Distribution
from scratchgen.distributions.independent import Independent
from scratchgen.distributions.multivariate_normal import (
    MultivariateNormal,
    diagonal,
    mahalanobis_whiten,
)
from scratchgen.distributions.normal import Normal

_KL: dict[tuple[type, type], Callable[[Distribution, Distribution], Tensor]] = {}


def register_kl(p_type: type, q_type: type):
    """Decorator: the closed form of KL between distributions of these two types."""

    def register(fn):
        _KL[(p_type, q_type)] = fn
        return fn

    return register


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q), one value per batch element; differentiable in both sets of parameters."""
    fn = _KL.get((type(p), type(q)))
    if fn is None:
        raise NotImplementedError(
            f"kl_divergence: no closed form for {type(p).__name__} || {type(q).__name__}; "
            "estimate it by Monte Carlo, mean(p.log_prob(x) - q.log_prob(x)) over x ~ p"
        )
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal(p: Normal, q: Normal) -> Tensor:
    """log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2 (Kingma & Welling 2014,
    appendix B, for q = N(0, 1))."""
    ratio = p.scale / q.scale
    diff = (p.loc - q.loc) / q.scale
    return -ad.log(ratio) + 0.5 * (ratio * ratio + diff * diff) - 0.5


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """p log(p/q) + (1 - p) log((1 - p)/(1 - q)), from log-sigmoids of the logits."""
    prob = p.probs
    return prob * (ad.log_sigmoid(p.logits) - ad.log_sigmoid(q.logits)) + (1 - prob) * (
        ad.log_sigmoid(-p.logits) - ad.log_sigmoid(-q.logits)
    )


@register_kl(Categorical, Categorical)
def _kl_categorical(p: Categorical, q: Categorical) -> Tensor:
    """sum_k p_k (log p_k - log q_k) (terms with p_k = 0 contribute 0)."""
    terms = p.probs * (p.logits - q.logits)
    return ad.sum(ad.where(p.probs.data > 0, terms, 0.0), axis=-1)


@register_kl(Independent, Independent)
def _kl_independent(p: Independent, q: Independent) -> Tensor:
    if p.ndims != q.ndims:
        raise ValueError("kl_divergence: Independent distributions with different event ranks")
    return p._sum_event(kl_divergence(p.base, q.base))


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_multivariate_normal(p: MultivariateNormal, q: MultivariateNormal) -> Tensor:
    """1/2 [tr(S_q^-1 S_p) + (m_q - m_p)^T S_q^-1 (m_q - m_p) - d] + log|L_q| - log|L_p|
    (Bishop 2006, exercise 2.33 gives the pieces). With S = L L^T, tr(S_q^-1 S_p) is the
    squared Frobenius norm of L_q^-1 L_p and the quadratic form that of L_q^-1 (m_q - m_p)."""
    d = p.event_shape[0]
    batch = np.broadcast_shapes(p.scale_tril.shape[:-2], q.scale_tril.shape[:-2])
    L_q = ad.broadcast_to(q.scale_tril, batch + (d, d))
    M = ad.triangular_solve(L_q, ad.broadcast_to(p.scale_tril, batch + (d, d)), lower=True)
    z = mahalanobis_whiten(q.scale_tril, q.loc - p.loc)
    log_det_ratio = ad.sum(ad.log(diagonal(q.scale_tril)) - ad.log(diagonal(p.scale_tril)), -1)
    trace = ad.sum(M * M, axis=(-2, -1))
    return 0.5 * (trace + ad.sum(z * z, axis=-1) - d) + log_det_ratio
