"""Dequantisation: a density on R^D for data on a grid of L levels per dimension.

A continuous density p on discrete values x in {0, ..., L - 1}^D can put unbounded density on
the points themselves; the likelihood that means something is that of a discrete model,

    P(x) = int_{[0,1)^D} p((x + u) / L) L^-D du

(the cube of side 1/L at x, the scaling to [0, 1) included). For any density q(u | x) on the
unit cube, Jensen's inequality gives the bound that flows train and report (Theis, van den
Oord & Bethge 2016, section 3.1; Ho et al. 2019, "Flow++", eq. 12):

    log P(x) >= E_{u ~ q(u|x)} [ log p((x + u) / L) - log q(u | x) ] - D log L

With q uniform (``uniform``, log q = 0) the bound is tight only if p is flat on each cube;
``VariationalDequantizer`` learns q (Flow++'s variational dequantisation: a conditional flow
from Gaussian noise onto the cube), which tightens it. Each term of the bound is computed in
``models.flows.base.FlowModel.log_prob_terms``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Compose, Inverse
from scratchgen.bijections.conditioners import ConvConditioner, MLPConditioner
from scratchgen.bijections.coupling import AffineCoupling, checkerboard_mask, half_mask
from scratchgen.bijections.elementwise import Sigmoid
from scratchgen.nn import Module

LOG_2PI = float(np.log(2 * np.pi))


def uniform_noise(shape: tuple[int, ...], rng: np.random.Generator, dtype: Any) -> tuple[
        Tensor, Tensor]:  # fmt: skip
    """u ~ U[0, 1)^D and log q(u) = 0 per example."""
    return ad.Tensor(rng.random(shape).astype(dtype)), ad.Tensor(np.zeros(shape[0], dtype))


class VariationalDequantizer(Module):
    """q(u | x): u = sigmoid(g^{-1}(eps; x)) with eps ~ N(0, I) and g a stack of affine
    couplings conditioned on x, so that

        log q(u | x) = log N(eps) - log |det du/deps|

    with the log-det of the couplings' inverse and of the sigmoid (Flow++, section 3.1)."""

    def __init__(self, shape: tuple[int, ...], couplings: int = 2, filters: int = 16, *,
                 rng: np.random.Generator, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        layers: list[Bijection] = [Inverse(Sigmoid())]  # u in (0, 1) -> R, then the couplings
        for i in range(couplings):
            if len(shape) == 3:
                C = shape[0]
                net = ConvConditioner(C, 2 * C, filters, 1, context=C, rng=rng, dtype=dtype)
                layers.append(AffineCoupling(checkerboard_mask(shape, i % 2), net))
            else:
                D = shape[0]
                net = MLPConditioner(D, 2 * D, (filters,), context=D, rng=rng, dtype=dtype)
                layers.append(AffineCoupling(half_mask(D, i % 2), net))
        self.flow = Compose(layers)

    def sample(self, context: Tensor, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        """(u, log q(u | x)) for the context x (scaled), one draw per example."""
        eps = rng.standard_normal(context.shape).astype(context.dtype)
        u, logdet = self.flow.inverse(ad.Tensor(eps), context)
        axes = tuple(range(1, eps.ndim))
        log_noise = -0.5 * np.sum(eps**2, axis=axes) - 0.5 * eps[0].size * LOG_2PI
        return u, log_noise - logdet
