"""The two players' networks: MLPs for vectors, DCGAN's convolutional pair for images (Radford,
Metz & Chintala 2016: strided convolutions instead of pooling, transposed convolutions to
upsample, ReLU in the generator and LeakyReLU(0.2) in the discriminator, tanh output; without
their batch normalisation, which the library does not have, and which the gradient penalty
forbids in the critic anyway: Gulrajani et al. 2017, section 4).

Conditioning on a class y (``num_classes`` > 0): the generator reads [z, e(y)] with a learned
embedding e; the discriminator either reads the one-hot y joined to its input (``concat``:
appended to a vector, or as constant channels of an image) or adds the projection term of
Miyato & Koyama 2018 (eq. 3): D(x, y) = psi(phi(x)) + embed(y)^T phi(x), with phi the features
and psi the linear head. A discriminator that sees ``pack`` samples at once (PacGAN, Lin et al.
2018) takes them joined along the features (vectors) or the channels (images).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import nn
from scratchgen.nn import Module


def _maybe_spectral(layer: Module, spectral: bool, rng: np.random.Generator) -> Module:
    return nn.SpectralNorm(layer, rng=rng) if spectral else layer


def feature_network(shape: tuple[int, ...], architecture: str, hidden: Sequence[int],
                    filters: int, inputs: int, spectral_norm: bool, *,
                    rng: np.random.Generator, dtype: Any) -> tuple[Module, int]:  # fmt: skip
    """phi, the discriminator's (and an encoder's) body, and its number of features: for
    ``mlp``, Linear layers through ``hidden`` with LeakyReLU(0.2) from ``inputs`` numbers; for
    ``dcgan``, two 4x4 stride-2 convolutions from ``inputs`` channels to ``filters`` and 2
    ``filters``, each followed by LeakyReLU(0.2), flattened."""

    def sn(layer: Module) -> Module:
        return _maybe_spectral(layer, spectral_norm, rng)

    if architecture == "mlp":
        sizes = [inputs, *hidden]
        layers: list[Module] = []
        for d_in, d_out in zip(sizes[:-1], sizes[1:]):
            layers += [sn(nn.Linear(d_in, d_out, rng=rng, dtype=dtype)), nn.LeakyReLU(0.2)]
        return nn.Sequential(*layers), sizes[-1]
    size = shape[1] // 4
    layers = [sn(nn.Conv2d(inputs, filters, 4, 2, 1, rng=rng, dtype=dtype)), nn.LeakyReLU(0.2),
              sn(nn.Conv2d(filters, 2 * filters, 4, 2, 1, rng=rng, dtype=dtype)),
              nn.LeakyReLU(0.2), _Reshape((2 * filters * size * size,))]  # fmt: skip
    return nn.Sequential(*layers), 2 * filters * size * size


def _inputs(shape: tuple[int, ...], architecture: str, pack: int = 1) -> int:
    """What the feature network reads: numbers of a (packed) vector, or channels of an image."""
    return pack * (int(np.prod(shape)) if architecture == "mlp" else shape[0])


class Generator(Module):
    """z (n, latent) and labels y (or None) -> a sample in signal space (n, *shape): [-1, 1]
    for images (tanh), unbounded for vectors."""

    def __init__(self, shape: tuple[int, ...], latent: int, architecture: str,
                 hidden: Sequence[int], filters: int, num_classes: int, *,
                 rng: np.random.Generator, dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.shape, self.image = shape, len(shape) == 3
        self.embed = (nn.Embedding(num_classes, latent, rng=rng, dtype=dtype) if num_classes
                      else None)  # fmt: skip
        width = 2 * latent if num_classes else latent
        if architecture == "mlp":
            self.body = nn.MLP([width, *hidden, int(np.prod(shape))], rng=rng, dtype=dtype)
            return
        channels, size = shape[0], shape[1] // 4
        seed = (2 * filters, size, size)  # the image the transposed convolutions grow
        self.body = nn.Sequential(
            nn.Linear(width, int(np.prod(seed)), rng=rng, dtype=dtype), _Reshape(seed), nn.ReLU(),
            nn.ConvTranspose2d(2 * filters, filters, 4, 2, 1, rng=rng, dtype=dtype), nn.ReLU(),
            nn.ConvTranspose2d(filters, channels, 4, 2, 1, rng=rng, dtype=dtype),
        )  # fmt: skip

    def forward(self, z: Any, y: Any = None) -> Tensor:
        h = ad.as_constant(z)
        if self.embed is not None:
            h = ad.concatenate([h, self.embed(y)], axis=1)
        out = ad.reshape(self.body(h), (h.shape[0], *self.shape))
        return ad.tanh(out) if self.image else out


class Discriminator(Module):
    """x (n, *shape), its samples packed ``pack`` at a time, and labels y (or None) -> raw
    outputs v (n / pack,): logits, critic values or f-GAN's V(x)."""

    def __init__(self, shape: tuple[int, ...], architecture: str, hidden: Sequence[int],
                 filters: int, num_classes: int, conditioning: str, pack: int,
                 spectral_norm: bool, *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.shape, self.pack, self.num_classes = shape, pack, num_classes
        self.image = architecture == "dcgan"
        self.concat = bool(num_classes) and conditioning == "concat"
        extra = num_classes if self.concat else 0
        self.phi, features = feature_network(shape, architecture, hidden, filters,
                                             _inputs(shape, architecture, pack) + extra,
                                             spectral_norm, rng=rng, dtype=dtype)  # fmt: skip
        self.psi = _maybe_spectral(nn.Linear(features, 1, rng=rng, dtype=dtype), spectral_norm,
                                   rng)  # fmt: skip
        project = num_classes and conditioning == "projection"
        self.project = (nn.Embedding(num_classes, features, rng=rng, dtype=dtype) if project
                        else None)  # fmt: skip

    def _packed(self, x: Tensor) -> Tensor:
        """(n, *shape) -> (n / pack, pack * D) for the MLP, (n / pack, pack * C, H, W) for the
        convolutions: each row holds ``pack`` consecutive samples."""
        n = x.shape[0] // self.pack
        if self.image:
            c, h, w = self.shape
            return ad.reshape(x, (n, self.pack * c, h, w))
        return ad.reshape(x, (n, -1))

    def forward(self, x: Any, y: Any = None) -> Tensor:
        h = self._packed(ad.as_constant(x))
        if self.concat:
            one_hot = np.eye(self.num_classes, dtype=h.dtype)[np.asarray(y)]
            if self.image:
                one_hot = np.broadcast_to(one_hot[:, :, None, None],
                                          one_hot.shape + self.shape[1:])  # fmt: skip
            h = ad.concatenate([h, ad.as_constant(one_hot)], axis=1)
        features = self.phi(h)
        v = ad.reshape(self.psi(features), (h.shape[0],))
        if self.project is not None:
            v = v + ad.sum(self.project(y) * features, axis=1)
        return v


class InputFeatures(Module):
    """phi(x) for one example at a time (no packing, no label): the feature network of
    ``feature_network``, x flattened first for the MLP; ``size`` features."""

    def __init__(self, shape: tuple[int, ...], architecture: str, hidden: Sequence[int],
                 filters: int, *, rng: np.random.Generator, dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.image = architecture == "dcgan"
        self.phi, self.size = feature_network(shape, architecture, hidden, filters,
                                              _inputs(shape, architecture), False, rng=rng,
                                              dtype=dtype)  # fmt: skip

    def forward(self, x: Any) -> Tensor:
        x = ad.as_constant(x)
        return self.phi(x if self.image else ad.reshape(x, (x.shape[0], -1)))


class Encoder(Module):
    """BiGAN's encoder E: x (n, *shape) in signal space -> a code z (n, latent), through the
    discriminator's kind of feature network and a linear map (deterministic, as in Donahue
    et al. 2017)."""

    def __init__(self, shape: tuple[int, ...], latent: int, architecture: str,
                 hidden: Sequence[int], filters: int, *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.phi = InputFeatures(shape, architecture, hidden, filters, rng=rng, dtype=dtype)
        self.out = nn.Linear(self.phi.size, latent, rng=rng, dtype=dtype)

    def forward(self, x: Any) -> Tensor:
        return self.out(self.phi(x))


class JointDiscriminator(Module):
    """BiGAN's discriminator on pairs: D(x, z) = psi(MLP([phi(x), z])), phi the feature
    network of x; raw outputs (n,)."""

    def __init__(self, shape: tuple[int, ...], latent: int, architecture: str,
                 hidden: Sequence[int], filters: int, *, rng: np.random.Generator,
                 dtype: Any) -> None:  # fmt: skip
        super().__init__()
        self.phi = InputFeatures(shape, architecture, hidden, filters, rng=rng, dtype=dtype)
        pair = self.phi.size + latent
        self.joint, width = feature_network((pair,), "mlp", hidden, filters, pair, False,
                                            rng=rng, dtype=dtype)  # fmt: skip
        self.psi = nn.Linear(width, 1, rng=rng, dtype=dtype)

    def forward(self, x: Any, z: Any) -> Tensor:
        h = self.phi(x)
        joint = self.joint(ad.concatenate([h, ad.as_constant(z)], axis=1))
        return ad.reshape(self.psi(joint), (h.shape[0],))


class _Reshape(Module):
    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: Tensor) -> Tensor:
        return ad.reshape(x, (x.shape[0], *self.shape))
