"""``DiscretizedLogisticMixture``: PixelCNN++'s likelihood for 8-bit values.

Values x in {0, ..., L - 1} (L = 256 for 8-bit data) are rescaled to [-1, 1]; each bin has
half-width b = 1 / (L - 1) (1/255 for 8 bits). With a mixture of logistics (weights pi_j,
means mu_j, scales s_j), the probability of a bin is the mass the mixture puts in it
(Salimans et al., "PixelCNN++", 2017, eq. 2):

    P(x) = sum_j pi_j [ sigma((x + b - mu_j) / s_j) - sigma((x - b - mu_j) / s_j) ]

with the edge bins extended to -inf (x = -1) and +inf (x = 1), so the 256 probabilities sum to
one exactly. Computed in log space: log sigma(a) - log sigma(b) and the edges with
log-sigmoid and softplus; when a bin's mass underflows (a tiny scale far from the mean) the
density at the bin's centre times its width stands in for it, as in the paper's code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.distributions.distribution import Distribution, as_tensor


class DiscretizedLogisticMixture(Distribution):
    """Per element: ``logit_probs``, ``means``, ``log_scales`` of shape (..., K); values are
    floats in [-1, 1] on the grid of ``levels`` values (256 by default)."""

    def __init__(self, logit_probs: Any, means: Any, log_scales: Any, levels: int = 256) -> None:
        if levels < 2:
            raise ValueError(f"DiscretizedLogisticMixture: levels must be >= 2, got {levels}")
        self.levels, self.half_bin = levels, 1.0 / (levels - 1)
        self.logit_probs = ad.log_softmax(as_tensor(logit_probs), axis=-1)
        self.means, self.log_scales = as_tensor(means), as_tensor(log_scales)
        shapes = {self.logit_probs.shape, self.means.shape, self.log_scales.shape}
        if len(shapes) != 1:
            raise ValueError(
                f"DiscretizedLogisticMixture: parameter shapes differ: {sorted(shapes)}"
            )
        self.batch_shape = self.means.shape[:-1]
        self.num_components = self.means.shape[-1]

    def log_prob(self, x: Any) -> Tensor:
        x = ad.unsqueeze(ad.as_constant(x), -1)  # (..., 1) against (..., K)
        inv_s = ad.exp(-self.log_scales)
        centred = x - self.means
        upper = inv_s * (centred + self.half_bin)  # (x + b - mu) / s
        lower = inv_s * (centred - self.half_bin)
        log_cdf_upper = ad.log_sigmoid(upper)  # bin 0: mass from -inf
        log_survival_lower = -ad.softplus(lower)  # bin 255: mass to +inf
        # interior: log(sigma(upper) - sigma(lower)); the difference underflows when both
        # are far in a tail, where the centre density times the bin width takes over
        mass = ad.sigmoid(upper) - ad.sigmoid(lower)
        centre = inv_s * centred
        log_density = centre - self.log_scales - 2 * ad.softplus(centre) + np.log(2 * self.half_bin)
        safe_mass = ad.where(mass.data > 1e-5, mass, 1.0)
        interior = ad.where(mass.data > 1e-5, ad.log(safe_mass), log_density)
        at_bottom, at_top = x.data < -1 + self.half_bin, x.data > 1 - self.half_bin
        log_bins = ad.where(
            at_bottom, log_cdf_upper, ad.where(at_top, log_survival_lower, interior)
        )
        return ad.logsumexp(self.logit_probs + log_bins, axis=-1)

    def sample(self, sample_shape: Any = (), *, rng: np.random.Generator) -> np.ndarray:
        """Pick a component, draw a logistic by inverting its CDF, mu + s log(u / (1 - u)),
        then clip to [-1, 1] and round to the grid."""
        shape = self._shape(sample_shape)
        gumbel = -np.log(-np.log(rng.random(shape + (self.num_components,))))
        k = np.argmax(self.logit_probs.data + gumbel, axis=-1)[..., None]
        mu = np.take_along_axis(
            np.broadcast_to(self.means.data, shape + (self.num_components,)), k, -1
        )
        log_s = np.take_along_axis(
            np.broadcast_to(self.log_scales.data, shape + (self.num_components,)), k, -1
        )
        u = rng.uniform(1e-5, 1 - 1e-5, mu.shape)
        x = mu + np.exp(log_s) * (np.log(u) - np.log1p(-u))
        top = self.levels - 1
        level = np.clip(np.round((x[..., 0] + 1) / 2 * top), 0, top)
        return (2 * level / top - 1).astype(self.means.dtype)
