"""``gan``: a generator G(z), z ~ N(0, I), against a discriminator D, under any objective of
``objectives.OBJECTIVES``; MLP players for vectors, DCGAN's for images; conditional on a class,
spectrally normalised, or packed (PacGAN) as the settings say. The two-player machinery is
``base.AdversarialModel``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.base import UnsupportedData, register
from scratchgen.models.gan.base import AdversarialModel
from scratchgen.models.gan.objectives import OBJECTIVES
from scratchgen.models.gan.penalty import gradient_penalty
from scratchgen.models.gan.players import Discriminator, Generator
from scratchgen.settings import Classes, NonNegative, Positive, Range, Size

Loss = Literal["minimax", "ns", "kl", "reverse_kl", "js", "pearson", "hellinger", "wgan",
               "wgan_gp", "hinge", "lsgan"]  # fmt: skip


def architecture_for(architecture: str, info: DataInfo) -> str:
    """``auto``: DCGAN's players for images, MLPs for vectors; DCGAN's need square images
    whose side halves twice."""
    if architecture == "auto":
        architecture = "dcgan" if len(info.shape) == 3 else "mlp"
    shape = info.shape
    if architecture == "dcgan" and not (len(shape) == 3 and shape[1] % 4 == 0
                                        and shape[2] == shape[1]):  # fmt: skip
        raise UnsupportedData(f"the DCGAN players need square images whose side is a multiple "
                              f"of 4, not examples of shape {shape}")  # fmt: skip
    return architecture


@register("gan", ("continuous", "binary", "categorical"),
          "GAN: minimax, non-saturating, f-GAN, WGAN(-GP), hinge, LSGAN; MLP or DCGAN")  # fmt: skip
class GAN(AdversarialModel):
    def __init__(self, info: DataInfo, loss: Loss = "ns", latent: Size = 16,
                 architecture: Literal["auto", "mlp", "dcgan"] = "auto",
                 hidden: Sequence[Size] = (128, 128), filters: Size = 32,
                 num_classes: Classes = 0,
                 conditioning: Literal["projection", "concat"] = "projection",
                 spectral_norm: bool = False, pack: Annotated[int, Range(1, 16)] = 1,
                 n_critic: Annotated[int, Range(1, 100)] | None = None,
                 gp_lambda: NonNegative = 10.0, clip_value: Positive = 0.01,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, loss=loss, latent=latent, architecture=architecture,
                         hidden=list(hidden), filters=filters, num_classes=num_classes,
                         conditioning=conditioning, spectral_norm=spectral_norm, pack=pack,
                         n_critic=n_critic, gp_lambda=gp_lambda, clip_value=clip_value,
                         **hparams)  # fmt: skip
        h = self.hparams
        architecture = architecture_for(architecture, info)
        if num_classes and pack > 1:
            raise ValueError("gan: a packed discriminator (pack > 1) takes no class condition")
        rng = np.random.default_rng([h["seed"], 2])
        self.generator = Generator(info.shape, latent, architecture, h["hidden"], filters,
                                   num_classes, rng=rng, dtype=self.dtype)  # fmt: skip
        self.discriminator = Discriminator(info.shape, architecture, h["hidden"], filters,
                                           num_classes, conditioning, pack, spectral_norm,
                                           rng=rng, dtype=self.dtype)  # fmt: skip
        self.objective = OBJECTIVES[loss]

    def player_loss(self, name: str, x: Any, y: Any = None) -> Tensor:
        """The discriminator's loss on a batch of data and as many samples (the samples a
        constant: only D learns from it), plus lambda times the gradient penalty for wgan_gp;
        or the generator's loss on as many samples."""
        n = self._packable(len(np.asarray(x)))
        y = self._labels(y, n)
        self._check_player(name)
        if name == "generator":
            return self.objective.generator(self.discriminator(self.fake(n, y), y))
        real = self.signal(np.asarray(x)[:n])
        with ad.no_grad():
            fake = self.fake(n, y)
        loss = self.objective.discriminator(self.discriminator(real, y),
                                            self.discriminator(fake, y))  # fmt: skip
        if self.hparams["loss"] == "wgan_gp":
            penalty = gradient_penalty(lambda x_hat: self.discriminator(x_hat, y), real, fake,
                                       self.rng)  # fmt: skip
            loss = loss + self.hparams["gp_lambda"] * penalty
        return loss

    def _packable(self, n: int) -> int:
        """The batch size used: a whole number of packs."""
        used = n - n % self.hparams["pack"]
        if used == 0:
            raise ValueError(f"gan: a batch of {n} holds no whole pack of "
                             f"{self.hparams['pack']}")  # fmt: skip
        return used

    def discriminate(self, x: Any, y: Any = None) -> np.ndarray:
        """The discriminator's raw outputs on data x (for plots and the optimal-D check)."""
        with ad.no_grad():
            real = self.signal(x)
            return self.discriminator(real, self._labels(y, len(real))).data
