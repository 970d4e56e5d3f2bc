"""``gan``: a generator G(z), z ~ N(0, I), against a discriminator D, under any objective of
``objectives.OBJECTIVES``; MLP players for vectors, DCGAN's for images; conditional on a class,
spectrally normalised, or packed (PacGAN) as the settings say.

The model keeps the two-player contract of the trainer: ``players`` (discriminator, then
generator), ``player_loss(name, x, y=None)``, ``updates`` (n_critic discriminator updates per
generator update) and ``player_optimizers()`` (the paper's defaults for the objective), and
``after_update(name)`` (WGAN's weight clipping). It has no likelihood: ``log_prob`` says so.

Images are trained in signal space, [-1, 1] (2 x / (levels - 1) - 1); samples are mapped back
to the nearest of the data's levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel, UnsupportedData, register
from scratchgen.models.gan.objectives import OBJECTIVES
from scratchgen.models.gan.penalty import gradient_penalty
from scratchgen.models.gan.players import Discriminator, Generator
from scratchgen.nn import Module
from scratchgen.settings import Classes, NonNegative, Positive, Range, Size

Loss = Literal["minimax", "ns", "kl", "reverse_kl", "js", "pearson", "hellinger", "wgan",
               "wgan_gp", "hinge", "lsgan"]  # fmt: skip

# Each objective's optimizers as its paper trained them: DCGAN's Adam (Radford et al. 2016,
# section 4), WGAN's RMSprop (Arjovsky et al. 2017, Algorithm 1: lr 5e-5, n_critic 5), WGAN-GP's
# Adam (Gulrajani et al. 2017, their toy experiments' code: lr 1e-4, betas (0.5, 0.9), n_critic 5)
DCGAN_ADAM = {"kind": "adam", "lr": 2e-4, "betas": (0.5, 0.999)}
OPTIMIZERS = {"wgan": {"kind": "rmsprop", "lr": 5e-5},
              "wgan_gp": {"kind": "adam", "lr": 1e-4, "betas": (0.5, 0.9)}}  # fmt: skip
N_CRITIC = {"wgan": 5, "wgan_gp": 5}


def _signal(x: np.ndarray, info: DataInfo) -> np.ndarray:
    """Data -> the generator's space: images to [-1, 1], vectors as they are."""
    if info.kind == "continuous":
        return x
    top = 1 if info.kind == "binary" else info.levels - 1
    return 2.0 * x / top - 1.0


def _from_signal(s: np.ndarray, info: DataInfo) -> np.ndarray:
    """The generator's space -> data: the nearest level for images."""
    if info.kind == "continuous":
        return s
    top = 1 if info.kind == "binary" else info.levels - 1
    return np.clip(np.rint((s + 1.0) / 2.0 * top), 0, top).astype(np.int64)


@register("gan", ("continuous", "binary", "categorical"),
          "GAN: minimax, non-saturating, f-GAN, WGAN(-GP), hinge, LSGAN; MLP or DCGAN")  # fmt: skip
class GAN(GenerativeModel):
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
        if architecture == "auto":
            architecture = "dcgan" if len(info.shape) == 3 else "mlp"
        if architecture == "dcgan" and not (len(info.shape) == 3 and info.shape[1] % 4 == 0
                                            and info.shape[2] == info.shape[1]):  # fmt: skip
            raise UnsupportedData(f"gan: the DCGAN players need square images whose side is a "
                                  f"multiple of 4, not examples of shape {info.shape}")  # fmt: skip
        if num_classes and pack > 1:
            raise ValueError("gan: a packed discriminator (pack > 1) takes no class condition")
        self.architecture = architecture
        rng = np.random.default_rng([h["seed"], 2])
        self.generator = Generator(info.shape, latent, architecture, h["hidden"], filters,
                                   num_classes, rng=rng, dtype=self.dtype)  # fmt: skip
        self.discriminator = Discriminator(info.shape, architecture, h["hidden"], filters,
                                           num_classes, conditioning, pack, spectral_norm,
                                           rng=rng, dtype=self.dtype)  # fmt: skip
        self.objective = OBJECTIVES[loss]

    # ------------------------------------------------------------------ the two players
    @property
    def players(self) -> dict[str, Module]:
        return {"discriminator": self.discriminator, "generator": self.generator}

    @property
    def updates(self) -> dict[str, int]:
        n_critic = self.hparams["n_critic"] or N_CRITIC.get(self.hparams["loss"], 1)
        return {"discriminator": n_critic, "generator": 1}

    def player_optimizers(self) -> dict[str, dict[str, Any]]:
        chosen = OPTIMIZERS.get(self.hparams["loss"], DCGAN_ADAM)
        return {"discriminator": chosen, "generator": chosen}

    def after_update(self, name: str) -> None:
        """WGAN: the critic's weights clipped to [-c, c] after each of its updates (Arjovsky et
        al. 2017, Algorithm 1, line 7), a crude way to keep it K-Lipschitz."""
        if name == "discriminator" and self.hparams["loss"] == "wgan":
            c = self.hparams["clip_value"]
            for p in self.discriminator.parameters():
                np.clip(p.data, -c, c, out=p.data)

    def fake(self, n: int, y: Any = None, rng: np.random.Generator | None = None) -> Tensor:
        """G(z) for n draws z ~ N(0, I) (from ``rng``, else the model's), in signal space."""
        z = (self.rng if rng is None else rng).standard_normal((n, self.hparams["latent"]))
        return self.generator(z.astype(self.dtype), self._labels(y, n))

    def player_loss(self, name: str, x: Any, y: Any = None) -> Tensor:
        """The discriminator's loss on a batch of data and as many samples (the samples a
        constant: only D learns from it), plus lambda times the gradient penalty for wgan_gp;
        or the generator's loss on as many samples."""
        n = self._packable(len(np.asarray(x)))
        y = self._labels(y, n) if self.conditional else None
        if name == "generator":
            return self.objective.generator(self.discriminator(self.fake(n, y), y))
        if name != "discriminator":
            raise KeyError(f"gan: no player {name!r}; the players are {', '.join(self.players)}")
        real = ad.Tensor(_signal(np.asarray(x)[:n], self.info).astype(self.dtype))
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

    # ------------------------------------------------------------------ the model contract
    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The discriminator's loss (the value the game is played over)."""
        return self.player_loss("discriminator", x, y)

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        raise NotImplementedError("gan has no likelihood: a GAN defines its density only "
                                  "implicitly; evaluate it by its samples (fid, kid, pr, mmd, "
                                  "modes)")  # fmt: skip

    def sample(self, n: int, rng: np.random.Generator, y: Any = None) -> np.ndarray:
        with ad.no_grad():
            s = self.fake(n, y, rng).data
        return _from_signal(s, self.info)

    def discriminate(self, x: Any, y: Any = None) -> np.ndarray:
        """The discriminator's raw outputs on data x (for plots and the optimal-D check)."""
        with ad.no_grad():
            real = ad.Tensor(_signal(np.asarray(x), self.info).astype(self.dtype))
            return self.discriminator(real, self._labels(y, len(real)) if self.conditional
                                      else None).data  # fmt: skip
