"""Planar and radial flows (Rezende & Mohamed, "Variational Inference with Normalizing Flows",
2015, section 4.1). Each is a map f with a log-det in closed form and no closed-form inverse:
``inverse`` refuses (``NotInvertible``). They serve where only the forward map is needed:
pushing a base density's samples forward (``base.push_forward``: reverse-KL fits, VAE
posteriors), or scoring data in the normalising direction.

Planar (eq. 10-12), h = tanh:

    f(x) = x + u_hat h(w^T x + b),     log |det df/dx| = log |1 + u_hat^T h'(w^T x + b) w|

by the matrix determinant lemma (the Jacobian is I plus a rank-one matrix). f is invertible
when w^T u_hat >= -1 (appendix A), which u_hat = u + (m(w^T u) - w^T u) w / ||w||^2 with
m(a) = -1 + softplus(a) guarantees.

Radial (eq. 14), r = ||x - x_0||, h(alpha, r) = 1 / (alpha + r), alpha > 0, beta >= -alpha:

    f(x) = x + beta h(alpha, r) (x - x_0)
    log |det df/dx| = (D - 1) log(1 + beta h) + log(1 + beta h + beta h'(alpha, r) r)

With a ``context`` (an encoder's features) the parameters are offsets of a linear map of it,
one set per example (an amortised flow, as in their section 4.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, NotInvertible, Pair
from scratchgen.nn import Linear, Parameter


class _ClosedFormOnly(Bijection):
    """Parameters as one vector, shifted per example by a linear map of the context."""

    def __init__(self, features: int, sizes: tuple[int, ...], context: int, *,
                 rng: np.random.Generator, dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.features, self.sizes = features, sizes
        self.theta = Parameter(0.1 * rng.standard_normal(sum(sizes)), dtype=dtype)
        self.amortise = Linear(context, sum(sizes), rng=rng, dtype=dtype) if context else None

    def _parameters(self, context: Any) -> list[Tensor]:
        theta = ad.unsqueeze(self.theta, 0)
        if self.amortise is not None and context is not None:
            theta = theta + 0.1 * self.amortise(ad.as_constant(context))
        edges = np.cumsum((0,) + self.sizes)
        return [theta[:, a:b] for a, b in zip(edges[:-1], edges[1:])]

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        raise NotInvertible(f"{type(self).__name__} has no closed-form inverse (Rezende & "
                            "Mohamed 2015): push samples forward with it instead")  # fmt: skip


class Planar(_ClosedFormOnly):
    def __init__(self, features: int, context: int = 0, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__(features, (features, features, 1), context, rng=rng, dtype=dtype)

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        u, w, b = self._parameters(context)
        wu = ad.sum(w * u, axis=1, keepdims=True)
        u_hat = u + (ad.softplus(wu) - 1 - wu) * w / ad.sum(w * w, axis=1, keepdims=True)
        a = ad.sum(w * x, axis=1, keepdims=True) + b
        h = ad.tanh(a)
        psi = (1 - h * h) * w  # h'(w^T x + b) w
        logdet = ad.log(ad.abs(1 + ad.sum(u_hat * psi, axis=1)))
        return x + u_hat * h, logdet


class Radial(_ClosedFormOnly):
    def __init__(self, features: int, context: int = 0, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__(features, (features, 1, 1), context, rng=rng, dtype=dtype)

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        x0, raw_alpha, raw_beta = self._parameters(context)
        alpha = ad.softplus(raw_alpha)
        beta = -alpha + ad.softplus(raw_beta)  # beta >= -alpha: invertible
        diff = x - x0
        r = ad.sqrt(ad.sum(diff * diff, axis=1, keepdims=True))
        h = 1 / (alpha + r)
        dh = -h * h
        D = self.features
        logdet = (D - 1) * ad.log1p(beta * h) + ad.log(1 + beta * h + beta * dh * r)
        return x + beta * h * diff, logdet[:, 0]
