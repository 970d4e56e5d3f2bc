"""Gradient estimators for d/dtheta E_{q_theta(z)}[f(z)], the quantity every latent-variable
model needs and cannot compute exactly.

Each function returns a *surrogate*: a Tensor whose gradient (by ``autodiff.grad`` or
``backward``) is the estimator, so that it drops into any loss. With z_1..z_S drawn from q:

    pathwise (reparameterisation)   z_s = g(theta, eps_s)
        grad = 1/S sum_s d/dtheta f(g(theta, eps_s))
        (Kingma & Welling 2014, section 2.4; Rezende, Mohamed & Wierstra 2014)

    score function (REINFORCE)      any q, f need not be differentiable
        grad = 1/S sum_s (f(z_s) - b_s) d/dtheta log q_theta(z_s)
        (Williams 1992; unbiased for any baseline b_s independent of z_s, because
        E_q[d/dtheta log q_theta(z)] = 0)

    Gumbel-softmax (Concrete)       a categorical z relaxed to the simplex
        y = softmax((log pi + G) / tau),  G_k ~ Gumbel(0, 1) i.i.d.
        (Jang, Gu & Poole 2017, eq. 1; Maddison, Mnih & Teh 2017): pathwise and low in
        variance, but biased for tau > 0; as tau -> 0 y tends to the one-hot of
        argmax(log pi + G), which is an exact draw from pi (the Gumbel-max trick).

    straight-through                forward the hard one-hot, backward the soft y's gradient
        (Bengio, Leonard & Courville 2013; Jang et al. 2017, section 2.2)

Baselines for the score function: a constant, or "leave_one_out", b_s = mean of the other
S - 1 values f(z_j), which depends only on the other draws, so the estimator stays unbiased
while its variance falls (Kool, van Hoof & Welling 2019, "Buy 4 REINFORCE samples, get a
baseline for free!").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions import Distribution

Objective = Callable[[Tensor], Tensor]


def pathwise(f: Objective, q: Distribution, samples: int, rng: np.random.Generator) -> Tensor:
    """1/S sum_s f(z_s) with z_s = q.rsample(): its gradient is the pathwise estimator.
    ``f`` maps the (S, ...) draws to S values."""
    if not q.has_rsample:
        raise ValueError(f"pathwise: {type(q).__name__} has no reparameterised sampler; use "
                         "score_function")  # fmt: skip
    return ad.mean(f(q.rsample((samples,), rng=rng)))


def score_function(f: Objective, q: Distribution, samples: int, rng: np.random.Generator,
                   baseline: Any = 0.0) -> Tensor:  # fmt: skip
    """A surrogate, 1/S sum_s (f(z_s) - b_s) log q(z_s) with f and b held constant, whose
    gradient is the score-function estimator; ``baseline`` is a number, an array of S
    values, or "leave_one_out". Its value is not E[f]: only its gradient means anything."""
    with ad.no_grad():
        z = q.sample((samples,), rng=rng)
        values = np.asarray(f(ad.Tensor(z)).data, dtype=np.float64)
    if isinstance(baseline, str):
        if baseline != "leave_one_out" or samples < 2:
            raise ValueError("score_function: baseline must be a number, an array, or "
                             "'leave_one_out' with samples >= 2")  # fmt: skip
        baseline = (values.sum() - values) / (samples - 1)
    log_q = q.log_prob(z)
    return ad.mean((values - np.asarray(baseline)).astype(log_q.dtype) * log_q)


def gumbel_softmax(logits: Any, temperature: float, rng: np.random.Generator,
                   hard: bool = False) -> Tensor:  # fmt: skip
    """A relaxed one-hot draw y = softmax((logits + G) / tau) over the last axis; with
    ``hard`` the forward value is the one-hot of argmax y and the gradient is y's
    (straight-through)."""
    if temperature <= 0:
        raise ValueError(f"gumbel_softmax: temperature must be > 0, got {temperature}")
    logits = ad.as_constant(logits)
    gumbel = -np.log(-np.log(rng.random(logits.shape)))
    y = ad.softmax((logits + gumbel.astype(logits.dtype)) / temperature, axis=-1)
    if not hard:
        return y
    one_hot = np.eye(logits.shape[-1], dtype=logits.dtype)[np.argmax(y.data, axis=-1)]
    return y + (one_hot - y.detach())  # value: the one-hot; gradient: y's


def gradient_variance(surrogate: Callable[[], Tensor], params: list[Tensor], draws: int) -> float:
    """tr Cov[g]: the summed variance of the gradient estimates g = d surrogate / d params
    over ``draws`` independent calls (each call draws its own noise), the figure by which
    estimators are compared."""
    if draws < 2:
        raise ValueError(f"gradient_variance: needs draws >= 2, got {draws}")
    rows = [np.concatenate([g.data.ravel() for g in ad.grad(surrogate(), params)])
            for _ in range(draws)]  # fmt: skip
    return float(np.var(np.array(rows, dtype=np.float64), axis=0, ddof=1).sum())
