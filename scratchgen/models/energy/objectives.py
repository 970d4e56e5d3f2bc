"""The energy models' objectives that are not score matching (that is in
``scratchgen.score_matching``): the contrastive-divergence surrogate of maximum likelihood,
and noise-contrastive estimation.

An energy model p(x) = exp(-E(x)) / Z has an intractable Z. Maximum likelihood's gradient is

    grad_theta -log p(x) = grad_theta E(x) - E_{x- ~ p} [grad_theta E(x-)]

whose second term needs samples of the model itself (contrastive divergence, by short MCMC
runs); noise-contrastive estimation instead learns log Z as a parameter, by telling data from
noise whose density is known.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor


def _per_example(values: Tensor, name: str, what: str) -> Tensor:
    if values.ndim == 2 and values.shape[1] == 1:
        values = ad.reshape(values, (values.shape[0],))
    if values.ndim != 1:
        raise ValueError(f"{name}: {what} must have shape (n,) or (n, 1), got {values.shape}")
    return values


def contrastive_divergence(energy_data: Tensor, energy_samples: Tensor,
                           alpha: float = 0.0) -> Tensor:  # fmt: skip
    """The contrastive-divergence surrogate with the energy-magnitude penalty (Hinton 2002,
    "Training Products of Experts by Minimizing Contrastive Divergences"; in the form of Du &
    Mordatch 2019, "Implicit Generation and Generalization in Energy-Based Models",
    algorithm 1):

        L = E_{x+ ~ data} E(x+) - E_{x- ~ q} E(x-) + alpha E[E(x+)^2 + E(x-)^2]

    with x- the model's samples (short-run Langevin chains), taken as constants: then
    grad_theta of the first two terms is maximum likelihood's gradient above, with q standing
    in for p. L itself is no divergence (it is unbounded below when alpha = 0, which is why
    EBM training diverges when the energies drift); the penalty keeps them near zero.
    ``energy_data`` and ``energy_samples`` are E at the data and at the samples, (n,) each."""
    positive = _per_example(energy_data, "contrastive_divergence", "energy_data")
    negative = _per_example(energy_samples, "contrastive_divergence", "energy_samples")
    if alpha < 0:
        raise ValueError(f"contrastive_divergence: alpha must be >= 0, got {alpha}")
    loss = ad.mean(positive) - ad.mean(negative)
    if alpha > 0:
        loss = loss + alpha * (ad.mean(positive * positive) + ad.mean(negative * negative))
    return loss


def nce_loss(log_model: Callable[[Tensor], Tensor], x: Any, noise: Any,
             log_noise: Callable[[np.ndarray], np.ndarray]) -> Tensor:  # fmt: skip
    """Noise-contrastive estimation (Gutmann & Hyvarinen 2010, "Noise-contrastive estimation:
    A new estimation principle for unnormalized statistical models", eq. 3, with nu = m / n
    noise samples per data point as in their section 2.3). The model's log-density includes
    a learned normaliser c, log p_m(u) = -E(u) + c, and with G(u) = log p_m(u) - log p_n(u)
    the logistic regression of data (label 1) against noise (label 0),

        J = -1/(n + m) [ sum_x log h(x) + sum_y log(1 - h(y)) ],  h(u) = sigmoid(G(u) - log nu)

    is minimised where p_m = p_data (when the model family holds it), so that c converges to
    -log Z: the normaliser is estimated like any other parameter. With nu = 1 this is eq. 3's
    J_T with the sign for minimising. ``log_model`` maps a Tensor of points to (n,);
    ``log_noise`` maps an ndarray to (n,), the noise's exact log-density; ``noise`` are m
    samples of it."""
    x, y = ad.as_constant(x).data, ad.as_constant(noise).data
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"nce_loss: data {x.shape} and noise {y.shape} differ past the batch axis")
    log_nu = math.log(len(y) / len(x))
    with ad.enable_grad():
        g_x = _per_example(log_model(Tensor(x)), "nce_loss", "log_model(x)")
        g_y = _per_example(log_model(Tensor(y)), "nce_loss", "log_model(noise)")
        g_x = g_x - Tensor(np.asarray(log_noise(x), dtype=x.dtype) + log_nu)
        g_y = g_y - Tensor(np.asarray(log_noise(y), dtype=y.dtype) + log_nu)
        # log h = log sigmoid(G), log(1 - h) = log sigmoid(-G)
        total = ad.sum(ad.log_sigmoid(g_x)) + ad.sum(ad.log_sigmoid(-g_y))
        return -total / (len(x) + len(y))
