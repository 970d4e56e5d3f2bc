"""``Bijection``: an invertible map with the log-determinant of its Jacobian, and ``Compose``.

Directions (a contract, DESIGN.md): ``forward`` is the normalising direction, data to latent,

    forward(x, context) -> (z, log |det dz/dx|)        inverse(z, context) -> (x, log |det dx/dz|)

each log-determinant one number per example, shape (n,). For a flow z = f(x) with a base
density p_Z, the change of variables gives

    log p(x) = log p_Z(f(x)) + log |det df/dx|

and a draw is x = f^{-1}(z) with z ~ p_Z. ``context`` is whatever the map is conditioned on (a
one-hot class, an encoder's features): the map is invertible in x for each fixed context, and
layers that take none ignore it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.nn import Module, ModuleList

Pair = tuple[Tensor, Tensor]


class NotInvertible(NotImplementedError):
    """A layer whose inverse has no closed form (planar, radial)."""


def per_example(t: Tensor) -> Tensor:
    """Sum over every axis but the first: per-element log-derivatives to a log-det (n,)."""
    return ad.sum(t, axis=tuple(range(1, t.ndim))) if t.ndim > 1 else t


def zeros_logdet(x: Tensor) -> Tensor:
    """A log-det of 0 for each example of x, in x's dtype."""
    return ad.Tensor(np.zeros(x.shape[0], dtype=x.dtype))


class Bijection(Module):
    """An invertible layer: subclasses write ``forward`` and ``inverse`` (the module docstring
    says which way each runs) and document their Jacobian."""

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        raise NotImplementedError

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        raise NotImplementedError(f"{type(self).__name__} has no inverse")


class Compose(Bijection):
    """f = f_K o ... o f_1: forward applies the layers in order and inverse in reverse order;
    by the chain rule the log-dets add, log |det df/dx| = sum_k log |det df_k/dh_{k-1}|."""

    def __init__(self, layers: Iterable[Bijection]) -> None:
        super().__init__()
        self.layers = ModuleList(layers)

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        return _chain(self.layers, x, context, inverse=False)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        return _chain(list(self.layers)[::-1], z, context, inverse=True)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Bijection:
        return self.layers[index]


def _chain(layers: Sequence[Bijection], h: Tensor, context: Any, inverse: bool) -> Pair:
    total = zeros_logdet(h)
    for layer in layers:
        h, logdet = layer.inverse(h, context) if inverse else layer(h, context)
        total = total + logdet
    return h, total


class Inverse(Bijection):
    """The same map run the other way: forward is the layer's inverse and inverse its forward.
    IAF is ``Inverse(MaskedAutoregressive(...))``: the same weights as a MAF, with the fast
    direction moved from scoring to sampling."""

    def __init__(self, layer: Bijection) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        return self.layer.inverse(x, context)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        return self.layer(z, context)


def push_forward(flow: Bijection, z0: Tensor, log_q0: Tensor, context: Any = None) -> Pair:
    """Carry draws z0 of a density q0 through the map z_K = flow.forward(z0):

        log q_K(z_K) = log q0(z0) - log |det dz_K/dz0|        (Rezende & Mohamed 2015, eq. 7)

    This is how the flows of variational inference are used (a VAE's posterior, a fit to an
    unnormalised target): the density is needed only at the flow's own samples, so planar and
    radial layers, whose inverse has no closed form, serve as well as any."""
    z, logdet = flow(z0, context)
    return z, log_q0 - logdet
