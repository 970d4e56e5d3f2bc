"""A VAE posterior made richer by a normalising flow (Rezende & Mohamed 2015, section 4; IAF,
Kingma et al. 2016, section 4).

Draw z_0 from the Gaussian q_0(z | x) of the encoder and push it through K invertible maps
conditioned on the encoder's features h(x); by the change of variables (Rezende & Mohamed
2015, eq. 7; ``bijections.push_forward``)

    z_K = f_K o ... o f_1(z_0; h)
    log q_K(z_K | x) = log q_0(z_0 | x) - sum_k log |det df_k/dz_{k-1}|

and the ELBO is estimated by Monte Carlo, E_q_K[log p(x | z_K) + log p(z_K) - log q_K(z_K | x)]
(their eq. 15): the KL term has no closed form any more. ``FlowPosterior`` is that q_K as a
distribution: its log_prob is known at its own draws (the z_0 that made them is remembered),
which is all the bounds need; planar and radial layers have no inverse, so it is known only
there. With IAF layers each draw is one pass of each layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import bijections as B
from scratchgen.distributions import Distribution

FLOWS = ("planar", "radial", "iaf")


def posterior_flow(kind: str, latent: int, length: int, context: int, *,
                   rng: np.random.Generator, dtype: Any) -> B.Bijection:  # fmt: skip
    """``length`` planar, radial or IAF layers on codes of size ``latent`` taking ``context``
    features; IAF layers have reversals between them."""
    if kind not in FLOWS:
        raise ValueError(f"posterior_flow must be one of {', '.join(FLOWS)}, not {kind!r}")
    layers: list[B.Bijection] = []
    for k in range(length):
        if kind == "planar":
            layers.append(B.Planar(latent, context, rng=rng, dtype=dtype))
        elif kind == "radial":
            layers.append(B.Radial(latent, context, rng=rng, dtype=dtype))
        else:
            if k:
                layers.append(B.Reverse(latent))
            # forward is the one-pass direction: z_k = (z_{k-1} - mu(z_<)) exp(-alpha(z_<))
            layers.append(B.MaskedAutoregressive(latent, (max(32, 2 * latent),), context,
                                                 rng=rng, dtype=dtype))  # fmt: skip
    return B.Compose(layers)


class FlowPosterior(Distribution):
    """q_K(z | x): ``initial`` (q_0, a batch of n Gaussians over L dimensions) pushed through
    ``flow`` with ``context`` (n, C). ``log_prob`` answers for the draws of the last ``rsample``
    only."""

    has_rsample = True

    def __init__(self, initial: Distribution, flow: B.Bijection, context: Tensor) -> None:
        self.initial, self.flow, self.context = initial, flow, context
        self.batch_shape, self.event_shape = initial.batch_shape, initial.event_shape
        self._last: tuple[Tensor, Tensor] | None = None

    def rsample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> Tensor:
        z0 = self.initial.rsample(sample_shape, rng=rng)  # (S, n, L)
        log_q0 = self.initial.log_prob(z0)
        shape = z0.shape
        L, n = shape[-1], int(np.prod(shape[:-1]))
        context = ad.reshape(ad.broadcast_to(self.context, shape[:-1] + self.context.shape[-1:]),
                             (n, -1))  # fmt: skip
        zK, log_qK = B.push_forward(self.flow, ad.reshape(z0, (n, L)), ad.reshape(log_q0, (n,)),
                                    context)  # fmt: skip
        zK, log_qK = ad.reshape(zK, shape), ad.reshape(log_qK, shape[:-1])
        self._last = (zK, log_qK)
        return zK

    def log_prob(self, z: Any) -> Tensor:
        if self._last is None or z is not self._last[0]:
            raise ValueError("a flow posterior knows log q(z | x) at its own draws only "
                             "(planar and radial layers cannot be inverted)")  # fmt: skip
        return self._last[1]

    def mean_code(self) -> Tensor:
        """The mean of q_0 pushed through the flow: a code to reconstruct from."""
        loc = self.initial.base.loc
        return self.flow(loc, self.context)[0]
