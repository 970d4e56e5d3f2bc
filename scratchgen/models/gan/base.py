"""``AdversarialModel``: what the models of this family share on top of the trainer's
two-player contract (``players``, ``player_loss``, ``updates``, ``player_optimizers()``,
``after_update(name)``): the paper's optimizers per objective, n_critic, WGAN's weight
clipping, data to the generator's signal space and back, sampling, and no likelihood.

Images are trained in signal space, [-1, 1] (``scratchgen.models.signal``); samples are
mapped back to the nearest of the data's levels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.models.base import GenerativeModel
from scratchgen.models.signal import from_signal, to_signal
from scratchgen.nn import Module

# Each objective's optimizers as its paper trained them: DCGAN's Adam (Radford et al. 2016,
# section 4), WGAN's RMSprop (Arjovsky et al. 2017, Algorithm 1: lr 5e-5, n_critic 5), WGAN-GP's
# Adam (Gulrajani et al. 2017, their toy experiments' code: lr 1e-4, betas (0.5, 0.9), n_critic 5)
DCGAN_ADAM = {"kind": "adam", "lr": 2e-4, "betas": (0.5, 0.999)}
OPTIMIZERS = {"wgan": {"kind": "rmsprop", "lr": 5e-5},
              "wgan_gp": {"kind": "adam", "lr": 1e-4, "betas": (0.5, 0.9)}}  # fmt: skip
N_CRITIC = {"wgan": 5, "wgan_gp": 5}


class AdversarialModel(GenerativeModel):
    """A subclass sets ``self.generator`` (z, y -> signal) and ``self.discriminator``, and
    writes ``player_loss``; its settings may include ``loss``, ``latent``, ``n_critic`` and
    ``clip_value``."""

    @property
    def players(self) -> dict[str, Module]:
        return {"discriminator": self.discriminator, "generator": self.generator}

    @property
    def updates(self) -> dict[str, int]:
        loss = self.hparams.get("loss")
        n_critic = self.hparams.get("n_critic") or N_CRITIC.get(loss, 1)
        return {"discriminator": n_critic, "generator": 1}

    def player_optimizers(self) -> dict[str, dict[str, Any]]:
        chosen = OPTIMIZERS.get(self.hparams.get("loss"), DCGAN_ADAM)
        return {name: chosen for name in self.players}

    def after_update(self, name: str) -> None:
        """WGAN: the critic's weights clipped to [-c, c] after each of its updates (Arjovsky et
        al. 2017, Algorithm 1, line 7), a crude way to keep it K-Lipschitz."""
        if name == "discriminator" and self.hparams.get("loss") == "wgan":
            c = self.hparams["clip_value"]
            for p in self.discriminator.parameters():
                np.clip(p.data, -c, c, out=p.data)

    def signal(self, x: Any) -> Tensor:
        """A batch of data in the generator's space, a constant Tensor of the model's dtype."""
        return ad.Tensor(to_signal(np.asarray(x), self.info).astype(self.dtype))

    def latents(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """n draws z ~ N(0, I) (from ``rng``, else the model's own)."""
        z = (self.rng if rng is None else rng).standard_normal((n, self.hparams["latent"]))
        return z.astype(self.dtype)

    def fake(self, n: int, y: Any = None, rng: np.random.Generator | None = None) -> Tensor:
        """G(z) for n draws of z, in signal space."""
        return self.generator(self.latents(n, rng), self._labels(y, n))

    def _check_player(self, name: str) -> None:
        if name not in self.players:
            raise KeyError(f"{self.registered_name}: no player {name!r}; the players are "
                           f"{', '.join(self.players)}")  # fmt: skip

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The discriminator's loss (the value the game is played over)."""
        return self.player_loss("discriminator", x, y)

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        raise NotImplementedError(f"{self.registered_name} has no likelihood: an adversarial "
                                  "model defines its density only implicitly; evaluate it by "
                                  "its samples (fid, kid, pr, mmd, modes)")  # fmt: skip

    def sample(self, n: int, rng: np.random.Generator, y: Any = None) -> np.ndarray:
        with ad.no_grad():
            s = self.fake(n, y, rng).data
        return from_signal(s, self.info)
