"""f-divergences and their variational (Fenchel) bounds, for f-GANs (Nowozin, Cseke & Tomioka,
"f-GAN: Training Generative Neural Samplers using Variational Divergence Minimization", 2016).

For a convex f with f(1) = 0, D_f(P || Q) = integral q(x) f(p(x) / q(x)) dx. Its convex
conjugate f*(t) = sup_u (u t - f(u)) gives, for every function T into the domain of f*,

    D_f(P || Q) >= E_{x~P}[T(x)] - E_{x~Q}[f*(T(x))]                      (their eq. 4)

with equality at T*(x) = f'(p(x) / q(x)). An f-GAN's discriminator outputs an unbounded v(x)
and T = g_f(v), where the output activation g_f maps the real line into the domain of f*.

``F_DIVERGENCES[name]`` holds ``f``, ``f_star``, ``activation`` (g_f) and ``f_prime``, from the
paper's tables 1, 2 and 6, as functions of ndarrays or Tensors: written in the engine's
operations, they return a Tensor for a Tensor (differentiable) and an ndarray for an ndarray.

Note that ``js`` there is the f of 2 JS(P || Q) (f(u) = u log u - (u + 1) log((u + 1) / 2)):
its bound is on twice the Jensen-Shannon divergence; and ``gan`` is the f of the original
GAN's value, 2 JS(P || Q) - log 4.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff as ad

Function = Callable[[Any], Any]


@dataclass(frozen=True)
class FDivergence:
    """One f-divergence: f on u > 0, its conjugate f* on its domain, the output activation
    g_f: R -> dom f*, and f' (so that T* = f'(p / q))."""

    name: str
    f: Function
    f_star: Function
    activation: Function
    f_prime: Function


def _either(function: Function) -> Function:
    """``function`` returning an ndarray when given no Tensor."""

    def on_either(x: Any) -> Any:
        out = function(x)
        return out if isinstance(x, ad.Tensor) else np.asarray(out)

    return on_either


def _divergence(name: str, *functions: Function) -> FDivergence:
    return FDivergence(name, *(_either(fn) for fn in functions))


F_DIVERGENCES: dict[str, FDivergence] = {
    d.name: d
    for d in (
        # KL(P || Q): f(u) = u log u, f*(t) = exp(t - 1), g_f(v) = v
        _divergence("kl", lambda u: u * ad.log(u), lambda t: ad.exp(t - 1.0),
                    lambda v: v, lambda u: 1.0 + ad.log(u)),
        # KL(Q || P): f(u) = -log u, f*(t) = -1 - log(-t) on t < 0, g_f(v) = -exp(-v)
        _divergence("reverse_kl", lambda u: -ad.log(u), lambda t: -1.0 - ad.log(-t),
                    lambda v: -ad.exp(-v), lambda u: -1.0 / u),
        # 2 JS: f(u) = u log u - (u + 1) log((u + 1) / 2), f*(t) = -log(2 - exp(t)) on
        # t < log 2, g_f(v) = log 2 - log(1 + exp(-v))
        _divergence("js", lambda u: u * ad.log(u) - (u + 1.0) * ad.log((u + 1.0) / 2.0),
                    lambda t: -ad.log(2.0 - ad.exp(t)),
                    lambda v: math.log(2.0) + ad.log_sigmoid(v),
                    lambda u: ad.log(2.0 * u / (u + 1.0))),
        # Pearson chi^2: f(u) = (u - 1)^2, f*(t) = t^2 / 4 + t, g_f(v) = v
        _divergence("pearson", lambda u: (u - 1.0) ** 2, lambda t: t * t / 4.0 + t,
                    lambda v: v, lambda u: 2.0 * (u - 1.0)),
        # squared Hellinger: f(u) = (sqrt(u) - 1)^2, f*(t) = t / (1 - t) on t < 1,
        # g_f(v) = 1 - exp(-v)
        _divergence("hellinger", lambda u: (ad.sqrt(u) - 1.0) ** 2,
                    lambda t: t / (1.0 - t), lambda v: 1.0 - ad.exp(-v),
                    lambda u: 1.0 - 1.0 / ad.sqrt(u)),
        # GAN: f(u) = u log u - (u + 1) log(u + 1), f*(t) = -log(1 - exp(t)) on t < 0,
        # g_f(v) = -log(1 + exp(-v)) = log sigmoid(v)
        _divergence("gan", lambda u: u * ad.log(u) - (u + 1.0) * ad.log(u + 1.0),
                    lambda t: -ad.log(1.0 - ad.exp(t)), ad.log_sigmoid,
                    lambda u: ad.log(u / (u + 1.0))),
    )
}  # fmt: skip


def variational_bound(divergence: str | FDivergence, v_p: Any, v_q: Any) -> Any:
    """E_P[g_f(v)] - E_Q[f*(g_f(v))] (Nowozin et al. 2016, eq. 6) from the discriminator's raw
    outputs v on samples of P (``v_p``) and of Q (``v_q``): a lower bound on D_f(P || Q)."""
    d = F_DIVERGENCES[divergence] if isinstance(divergence, str) else divergence
    return ad.mean(d.activation(v_p)) - ad.mean(d.f_star(d.activation(v_q)))
