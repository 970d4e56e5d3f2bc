"""``bigan``: BiGAN (Donahue, Krähenbühl & Darrell, "Adversarial Feature Learning", 2017), the
same model as ALI (Dumoulin et al. 2017) with a deterministic encoder: an encoder E(x) learned
with the generator G(z), against a discriminator of pairs D(x, z) (their eq. 3):

    min_{G, E} max_D  E_x[log D(x, E(x))] + E_z[log(1 - D(G(z), z))]

At the optimum the joint distributions of (x, E(x)) and (G(z), z) agree, so E inverts G
(their theorem 2): E(x) is a code for x, and G(E(x)) a reconstruction of it, never trained to
be one. The discriminator's loss is the cross-entropy, -E log D(x, E(x)) - E log(1 - D(G(z),
z)); the encoder and generator minimise its negative (``minimax``), or, by default (``ns``),
the cross-entropy with the labels swapped, -E log(1 - D(x, E(x))) - E log D(G(z), z), the
non-saturating form their code trains with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.base import register
from scratchgen.models.gan.base import AdversarialModel
from scratchgen.models.gan.gan import architecture_for
from scratchgen.models.gan.players import Encoder, Generator, JointDiscriminator
from scratchgen.models.signal import from_signal
from scratchgen.nn import Module
from scratchgen.settings import Size


class GeneratorAndEncoder(Module):
    """The second player: G and E, trained together by one optimizer."""

    def __init__(self, generator: Module, encoder: Module) -> None:
        super().__init__()
        self.generator, self.encoder = generator, encoder


@register("bigan", ("continuous", "binary", "categorical"),
          "BiGAN / ALI: an encoder learned adversarially with the generator")  # fmt: skip
class BiGAN(AdversarialModel):
    def __init__(self, info: DataInfo, loss: Literal["ns", "minimax"] = "ns", latent: Size = 16,
                 architecture: Literal["auto", "mlp", "dcgan"] = "auto",
                 hidden: Sequence[Size] = (128, 128), filters: Size = 32,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, loss=loss, latent=latent, architecture=architecture,
                         hidden=list(hidden), filters=filters, **hparams)  # fmt: skip
        h, shape = self.hparams, info.shape
        chosen = architecture_for(architecture, info)
        rng = np.random.default_rng([h["seed"], 2])
        generator = Generator(shape, latent, chosen, h["hidden"], filters, 0, rng=rng,
                              dtype=self.dtype)  # fmt: skip
        encoder = Encoder(shape, latent, chosen, h["hidden"], filters, rng=rng, dtype=self.dtype)
        self.pair = GeneratorAndEncoder(generator, encoder)
        self.discriminator = JointDiscriminator(shape, latent, chosen, h["hidden"], filters,
                                                rng=rng, dtype=self.dtype)  # fmt: skip

    @property
    def generator(self) -> Module:
        return self.pair.generator

    @property
    def encoder(self) -> Module:
        return self.pair.encoder

    @property
    def players(self) -> dict[str, Module]:
        return {"discriminator": self.discriminator, "generator": self.pair}

    def player_loss(self, name: str, x: Any, y: Any = None) -> Tensor:
        """The discriminator's cross-entropy on (x, E(x)) against (G(z), z), E and G held
        constant; or the encoder and generator's loss on the same kind of pairs."""
        self._check_player(name)
        real, z = self.signal(x), self.latents(len(np.asarray(x)))
        if name == "discriminator":
            with ad.no_grad():
                code, fake = self.encoder(real), self.generator(z)
            v_real, v_fake = self.discriminator(real, code), self.discriminator(fake, z)
            return ad.mean(ad.softplus(-v_real)) + ad.mean(ad.softplus(v_fake))
        v_real = self.discriminator(real, self.encoder(real))
        v_fake = self.discriminator(self.generator(z), z)
        if self.hparams["loss"] == "minimax":
            return -(ad.mean(ad.softplus(-v_real)) + ad.mean(ad.softplus(v_fake)))
        return ad.mean(ad.softplus(v_real)) + ad.mean(ad.softplus(-v_fake))

    def encode(self, x: Any) -> np.ndarray:
        """E(x): the codes of data x, (n, latent)."""
        with ad.no_grad():
            return self.encoder(self.signal(x)).data

    def reconstruct(self, x: Any) -> np.ndarray:
        """G(E(x)), in the data's representation."""
        with ad.no_grad():
            return from_signal(self.generator(self.encoder(self.signal(x))).data, self.info)
