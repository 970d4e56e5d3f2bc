"""``cyclegan``: unpaired image-to-image translation (Zhu, Park, Isola & Efros, "Unpaired
Image-to-Image Translation using Cycle-Consistent Adversarial Networks", 2017).

Two generators, G: A -> B and F: B -> A, and two discriminators, D_B on B and D_A on A, with
the least-squares adversarial loss the paper trains with (section 4, "training details"):

    L_D = 1/2 E_b (D_B(b) - 1)^2 + 1/2 E_a D_B(G(a))^2   (and the same for D_A, F, a)
    L_G = E_a (D_B(G(a)) - 1)^2 + E_b (D_A(F(b)) - 1)^2
          + lambda_cyc (E |F(G(a)) - a|_1 + E |G(F(b)) - b|_1)          (their eq. 2, 3)
          + lambda_id (E |G(b) - b|_1 + E |F(a) - a|_1)                  (section 5.2)

with lambda_cyc = 10 and lambda_id = 5 (0.5 lambda_cyc in the authors' code). The data are
rows of two images side by side in the channels, (2 C, H, W): a scene of domain A in the first
C channels, one of domain B in the others (``data.load("shapes_red_blue")``: red scenes and
blue ones, unpaired in training, paired in the test set). The generators are small ResNets
(a 3x3 convolution, residual blocks, a 3x3 convolution, tanh), the discriminators PatchGANs
(two 4x4 stride-2 convolutions and a 3x3 one: a score per patch, each patch's loss averaged).

``translate(x, "a_to_b")`` maps images of one domain to the other; ``sample(n, rng,
given=...)`` translates ``given`` (A's images, (n, C, H, W)) and returns rows of (A, G(A)) in
the data's layout.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import nn
from scratchgen.data import DataInfo
from scratchgen.models.base import UnsupportedData, register
from scratchgen.models.gan.base import AdversarialModel
from scratchgen.models.gan.objectives import OBJECTIVES
from scratchgen.models.signal import from_signal
from scratchgen.nn import Module
from scratchgen.settings import Layers, NonNegative, Size


class Translator(Module):
    """x (n, C, H, W) in [-1, 1] -> an image of the other domain: conv, residual blocks,
    conv, tanh."""

    def __init__(self, channels: int, filters: int, blocks: int, *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, filters, 3, padding=1, rng=rng, dtype=dtype),
            *(nn.ResidualBlock(filters, rng=rng, dtype=dtype) for _ in range(blocks)),
            nn.ReLU(), nn.Conv2d(filters, channels, 3, padding=1, rng=rng, dtype=dtype),
        )  # fmt: skip

    def forward(self, x: Any) -> Tensor:
        return ad.tanh(self.net(ad.as_constant(x)))


class PatchDiscriminator(Module):
    """x (n, C, H, W) -> a score per patch, (n, H/4 W/4)."""

    def __init__(self, channels: int, filters: int, *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, filters, 4, 2, 1, rng=rng, dtype=dtype), nn.LeakyReLU(0.2),
            nn.Conv2d(filters, 2 * filters, 4, 2, 1, rng=rng, dtype=dtype), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * filters, 1, 3, padding=1, rng=rng, dtype=dtype),
        )  # fmt: skip

    def forward(self, x: Any) -> Tensor:
        v = self.net(ad.as_constant(x))
        return ad.reshape(v, (v.shape[0], -1))


class Both(Module):
    """One player made of two networks, one per domain."""

    def __init__(self, a: Module, b: Module) -> None:
        super().__init__()
        self.a, self.b = a, b


def _l1(x: Tensor, y: Tensor) -> Tensor:
    return ad.mean(ad.abs(x - y))


@register("cyclegan", ("categorical", "binary", "continuous"),
          "CycleGAN: unpaired translation, cycle and identity losses")  # fmt: skip
class CycleGAN(AdversarialModel):
    translates = True  # its samples are translations of given images

    def __init__(self, info: DataInfo, filters: Size = 32, blocks: Layers = 2,
                 lambda_cyc: NonNegative = 10.0, lambda_id: NonNegative = 5.0,
                 **hparams: Any) -> None:  # fmt: skip
        if len(info.shape) != 3 or info.shape[0] % 2 or info.shape[1] % 4 or info.shape[2] % 4:
            raise UnsupportedData(
                "cyclegan needs rows of two images side by side in the channels, (2 C, H, W) "
                f"with H and W multiples of 4 (as shapes_red_blue), not {info.shape}"
            )
        super().__init__(info, filters=filters, blocks=blocks, lambda_cyc=lambda_cyc,
                         lambda_id=lambda_id, **hparams)  # fmt: skip
        c = info.shape[0] // 2
        self.channels = c
        rng = np.random.default_rng([self.hparams["seed"], 2])

        def translator() -> Translator:
            return Translator(c, filters, blocks, rng=rng, dtype=self.dtype)

        def patches() -> PatchDiscriminator:
            return PatchDiscriminator(c, filters, rng=rng, dtype=self.dtype)

        # generators.a maps A to B (the paper's G), generators.b maps B to A (its F);
        # discriminators.a judges domain A (D_A), discriminators.b domain B (D_B)
        self.generators = Both(translator(), translator())
        self.discriminators = Both(patches(), patches())

    @property
    def players(self) -> dict[str, Module]:
        return {"discriminator": self.discriminators, "generator": self.generators}

    def _domains(self, x: Any) -> tuple[Tensor, Tensor]:
        s = self.signal(x)
        return s[:, : self.channels], s[:, self.channels :]

    def player_loss(self, name: str, x: Any, y: Any = None) -> Tensor:
        """The discriminators' least-squares loss, or the generators' adversarial, cycle and
        identity terms (see the module docstring), on a batch of (A, B) rows."""
        self._check_player(name)
        a, b = self._domains(x)
        G, F = self.generators.a, self.generators.b
        D_A, D_B = self.discriminators.a, self.discriminators.b
        if name == "discriminator":
            with ad.no_grad():
                fake_b, fake_a = G(a), F(b)
            least_squares = OBJECTIVES["lsgan"].discriminator
            return least_squares(D_B(b), D_B(fake_b)) + least_squares(D_A(a), D_A(fake_a))
        fake_b, fake_a = G(a), F(b)
        adversarial = ad.mean((D_B(fake_b) - 1.0) ** 2) + ad.mean((D_A(fake_a) - 1.0) ** 2)
        cycle = _l1(F(fake_b), a) + _l1(G(fake_a), b)
        loss = adversarial + self.hparams["lambda_cyc"] * cycle
        if self.hparams["lambda_id"]:
            loss = loss + self.hparams["lambda_id"] * (_l1(G(b), b) + _l1(F(a), a))
        return loss

    def translate(self, images: Any, direction: Literal["a_to_b", "b_to_a"] = "a_to_b") -> (
            np.ndarray):  # fmt: skip
        """Images of one domain (n, C, H, W), in the data's levels, mapped to the other."""
        images = np.asarray(images)
        if images.shape[1:] != (self.channels, *self.info.shape[1:]):
            raise ValueError(
                f"cyclegan: translate takes images of shape "
                f"{(self.channels, *self.info.shape[1:])}, got {images.shape[1:]}"
            )
        if direction not in ("a_to_b", "b_to_a"):
            raise ValueError(f"cyclegan: direction is 'a_to_b' or 'b_to_a', not {direction!r}")
        source = self.signal(images)
        network = self.generators.a if direction == "a_to_b" else self.generators.b
        with ad.no_grad():
            return from_signal(network(source).data, self.info)

    def sample(self, n: int, rng: np.random.Generator, y: Any = None,
               given: Any = None) -> np.ndarray:  # fmt: skip
        """Rows (A, G(A)) for n images of domain A (``given``, or rows of the data, whose first
        half is A): a translation model draws nothing of its own."""
        if given is None:
            raise ValueError("cyclegan translates images: give those of domain A (given=...)")
        given = np.asarray(given)
        if given.ndim == 4 and given.shape[1] == 2 * self.channels:
            given = given[:, : self.channels]
        images = np.broadcast_to(np.asarray(given), (n, self.channels, *self.info.shape[1:]))
        return np.concatenate([images, self.translate(images)], axis=1)
