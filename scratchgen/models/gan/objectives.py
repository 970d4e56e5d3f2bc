"""The GAN objectives: each the pair of losses the two players minimise, from the
discriminator's raw outputs v_real = D(x) on data and v_fake = D(G(z)) on samples (logits for
the classifiers; critic values for WGAN; V(x) before the output activation for f-GANs).

With sigma the logistic function, D(x) = sigma(v) is the probability that x is real, and
log D = -softplus(-v), log(1 - D) = -softplus(v), computed without overflow.

- ``minimax`` (Goodfellow et al. 2014, eq. 1): min_G max_D E_x log D(x) + E_z log(1 - D(G(z))).
  L_D = E softplus(-v_real) + E softplus(v_fake);  L_G = E log(1 - D(G(z))) = -E softplus(v_fake).
  Its generator's gradient vanishes when D rejects the samples confidently (section 3).
- ``ns``, non-saturating (their section 3): the same L_D; L_G = -E log D(G(z)) =
  E softplus(-v_fake), with the same fixed point and strong gradients early on.
- f-GAN (Nowozin et al. 2016, eq. 6), for each ``scratchgen.divergences`` name: the critic
  maximises F = E_x g_f(v_real) - E_z f*(g_f(v_fake)), a lower bound on D_f(P_data || P_G):
  L_D = -F; the generator minimises -E_z g_f(v_fake) (their section 3.2: the analogue of the
  non-saturating loss, which they used in their experiments).
- ``wgan`` (Arjovsky et al. 2017, eq. 3 and Algorithm 1): the critic estimates W1 by
  max_{||f||_L <= 1} E_x f(x) - E_z f(G(z)): L_D = E v_fake - E v_real; L_G = -E v_fake. The
  Lipschitz bound comes from clipping the critic's weights (``GAN.after_update``) or, for
  ``wgan_gp``, from the gradient penalty (``penalty.gradient_penalty``) added to L_D.
- ``hinge`` (Lim & Ye 2017; Miyato et al. 2018, eq. 17): L_D = E relu(1 - v_real) +
  E relu(1 + v_fake); L_G = -E v_fake.
- ``lsgan`` (Mao et al. 2017, eq. 2, the a = 0, b = c = 1 coding): L_D = 1/2 E (v_real - 1)^2 +
  1/2 E v_fake^2; L_G = 1/2 E (v_fake - 1)^2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import autodiff as ad
from autodiff import Tensor
from scratchgen.divergences import F_DIVERGENCES, variational_bound


@dataclass(frozen=True)
class Objective:
    """``discriminator(v_real, v_fake)`` and ``generator(v_fake)``: the players' losses."""

    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]


def _classifier_loss(v_real: Tensor, v_fake: Tensor) -> Tensor:
    """-E log D(x) - E log(1 - D(G(z))): the discriminator's cross-entropy."""
    return ad.mean(ad.softplus(-v_real)) + ad.mean(ad.softplus(v_fake))


def _critic_loss(v_real: Tensor, v_fake: Tensor) -> Tensor:
    return ad.mean(v_fake) - ad.mean(v_real)


def _f_gan(name: str) -> Objective:
    divergence = F_DIVERGENCES[name]
    return Objective(lambda v_real, v_fake: -variational_bound(divergence, v_real, v_fake),
                     lambda v_fake: -ad.mean(divergence.activation(v_fake)))  # fmt: skip


OBJECTIVES: dict[str, Objective] = {
    "minimax": Objective(_classifier_loss, lambda v_fake: -ad.mean(ad.softplus(v_fake))),
    "ns": Objective(_classifier_loss, lambda v_fake: ad.mean(ad.softplus(-v_fake))),
    **{name: _f_gan(name) for name in ("kl", "reverse_kl", "js", "pearson", "hellinger")},
    "wgan": Objective(_critic_loss, lambda v_fake: -ad.mean(v_fake)),
    "wgan_gp": Objective(_critic_loss, lambda v_fake: -ad.mean(v_fake)),
    "hinge": Objective(lambda v_real, v_fake: ad.mean(ad.relu(1.0 - v_real))
                       + ad.mean(ad.relu(1.0 + v_fake)),
                       lambda v_fake: -ad.mean(v_fake)),
    "lsgan": Objective(lambda v_real, v_fake: 0.5 * ad.mean((v_real - 1.0) ** 2)
                       + 0.5 * ad.mean(v_fake**2),
                       lambda v_fake: 0.5 * ad.mean((v_fake - 1.0) ** 2)),
}  # fmt: skip
