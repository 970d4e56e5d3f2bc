"""``MaskedAutoregressive``: the masked autoregressive flow layer (MAF, Papamakarios, Pavlakou
& Murray 2017), whose inverse is the inverse autoregressive flow (IAF, Kingma et al. 2016).

A MADE network (``scratchgen.nn.layers.masked_linear``) gives each dimension the parameters
theta_i = NN(x_<i) of an elementwise map tau (affine, or the rational-quadratic spline):

    forward, data to latent:   z_i = tau(x_i; theta_i(x_<i))
    inverse, latent to data:   x_i = tau^{-1}(z_i; theta_i(x_<i))

(affine, as MAF's section 3.1 writes it: z_i = (x_i - mu_i) exp(-alpha_i).)

dz_i/dx_j = 0 for j > i, so the Jacobian is lower triangular and log |det dz/dx| = sum_i log
|tau'(x_i)|. The forward direction needs x only, which is known: one pass of the network for
all i at once. The inverse needs x_<i before x_i: D passes, one dimension finished per pass.

Which direction is which:
- MAF is this layer as it stands: log p(x) in one pass (fast to train by maximum likelihood,
  fast to score), sampling in D passes.
- IAF is ``Inverse(MaskedAutoregressive(...))``: its forward is the D-pass map and its inverse,
  latent to data, x_i = tau(z_i; theta_i(z_<i)), reads only z: sampling in one pass, scoring
  an outside x in D passes. Its own samples' densities are cheap (the z that made them is
  known), which is why it suits variational posteriors (Kingma et al. 2016, section 3).
MAF and IAF with the same weights are inverses of each other.

With a ``context`` c the network sees it too, theta_i = NN(x_<i, c) (added to the first hidden
layer, unmasked: c is not part of the autoregressive order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.bijections.base import Bijection, Pair, per_example
from scratchgen.bijections.transforms import Affine
from scratchgen.nn import Linear, MaskedLinear, Module, ModuleList, made_masks


class MADENetwork(Module):
    """theta (n, params, D) with theta[:, :, i] a function of x[:, ordering before i] (and c)."""

    def __init__(self, features: int, params: int, hidden: Sequence[int] = (64, 64),
                 context: int = 0, ordering: np.ndarray | None = None, *,
                 rng: np.random.Generator, dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        ordering = np.arange(features) if ordering is None else np.asarray(ordering)
        masks = made_masks(features, hidden, rng, ordering)
        masks[-1] = np.tile(masks[-1], (params, 1))  # output p * D + i has the degree of i
        self.features, self.params = features, params
        self.layers = ModuleList(MaskedLinear(m, rng=rng, dtype=dtype) for m in masks)
        last = self.layers[len(masks) - 1]
        last.weight.data[...], last.bias.data[...] = 0, 0  # start as the identity map
        self.context = Linear(context, hidden[0], rng=rng, dtype=dtype) if context else None

    def forward(self, x: Tensor, context: Any = None) -> Tensor:
        h = x
        for index, layer in enumerate(self.layers):
            h = layer(h)
            if index == 0 and self.context is not None and context is not None:
                h = h + self.context(ad.as_constant(context))
            if index < len(self.layers) - 1:
                h = ad.relu(h)
        return ad.reshape(h, (x.shape[0], self.params, self.features))


class MaskedAutoregressive(Bijection):
    """MAF's layer; see the module docstring for the two directions and their costs."""

    def __init__(self, features: int, hidden: Sequence[int] = (64, 64), context: int = 0,
                 transform: Any = None, *, rng: np.random.Generator,
                 dtype: Any = np.float32) -> None:  # fmt: skip
        super().__init__()
        self.transform = transform or Affine()
        self.network = MADENetwork(features, self.transform.params, hidden, context, rng=rng,
                                   dtype=dtype)  # fmt: skip

    def forward(self, x: Tensor, context: Any = None) -> Pair:
        z, log_derivative = self.transform.forward(x, self.network(x, context))
        return z, per_example(log_derivative)

    def inverse(self, z: Tensor, context: Any = None) -> Pair:
        """D passes: after pass d the first d dimensions (in the ordering) are exact, because
        dimension d reads only those before it."""
        x = ad.Tensor(np.zeros(z.shape, dtype=z.dtype))
        for _ in range(z.shape[1]):
            x, log_derivative = self.transform.inverse(z, self.network(x, context))
        return x, per_example(log_derivative)
