"""``RasterImageModel``: what PixelCNN and Gated PixelCNN share around their networks.

Both generate an image of C channels in raster order and, within a pixel, channel by channel
(R, then G, then B):

    p(x | y) = prod_{i, j} prod_c p(x_{c,i,j} | all earlier pixels, channels < c of (i, j), y)

A network computes every conditional in one pass, ``logits(x, y)`` of shape (n, C, K, H, W),
entry [:, c, :, i, j] computed from the inputs before (c, i, j) only. This class turns the K
numbers per value into a likelihood and a sampler:

* binary data, K = 1: a Bernoulli logit l, log p = x l - softplus(l);
* categorical data (``levels`` grey levels), K = levels: a softmax over the levels;
* ``output="logistic_mixture"``: a discretised mixture of ``mixtures`` logistics (PixelCNN++,
  Salimans et al. 2017, eq. 2), K = 3 * mixtures numbers (weight logits, means, log-scales);
  nearby levels get nearby probabilities by construction.

A class-conditional model (``num_classes`` > 0) adds a learned bias per class to the features
of its layers, h = conv(x) + b[y] (van den Oord et al. 2016b, eq. 4, with a one-hot class h);
a bias does not depend on x, so it cannot break the ordering. ``class_biases`` hands each layer
its share. Sampling fills the image value by value in generation order, one pass each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy.special import expit  # sigmoid without overflow

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import completion_start
from scratchgen.models.base import GenerativeModel
from scratchgen.nn import Embedding
from scratchgen.nn import functional as F
from scratchgen.settings import Classes, Size


class RasterImageModel(GenerativeModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, filters: int, num_classes: Classes = 0,
                 output: Literal["auto", "logistic_mixture"] = "auto", mixtures: Size = 5,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, filters=filters, num_classes=num_classes, output=output,
                         mixtures=mixtures, **hparams)  # fmt: skip
        name = type(self).__name__
        if len(info.shape) != 3:
            raise ValueError(f"{name} models images (C, H, W), not examples of shape {info.shape}")
        if filters % info.shape[0]:
            raise ValueError(
                f"{name}: filters={filters} must split into {info.shape[0]} colour groups"
            )
        if output == "logistic_mixture" and info.kind != "categorical":
            raise ValueError(f"{name}: a logistic mixture models categorical (grey-level) data")
        self.levels = 2 if info.kind == "binary" else info.levels
        self.mixtures = mixtures if output == "logistic_mixture" else 0
        self.K = 3 * mixtures if self.mixtures else (1 if info.kind == "binary" else self.levels)

    def scaled(self, x: Tensor) -> Tensor:
        """Inputs rescaled from levels 0 .. levels - 1 to [-1, 1]."""
        return 2 * x / (self.levels - 1) - 1

    def add_class_biases(self, widths: Sequence[int], rng: np.random.Generator) -> None:
        """For a conditional model: one learned bias per class for layers of these widths."""
        self.bias_widths = list(widths)
        if self.conditional:
            self.class_bias = Embedding(
                int(self.hparams["num_classes"]), sum(widths), rng=rng, dtype=self.dtype
            )

    def class_biases(self, y: Any, n: int) -> list[Tensor | float]:
        """One (n, width, 1, 1) bias per layer for labels y (zeros if unconditional)."""
        name = type(self).__name__
        if not self.conditional:
            if y is not None:
                raise ValueError(f"{name}: this model is not class-conditional (num_classes=0); "
                                 "it takes no labels")  # fmt: skip
            return [0.0] * len(self.bias_widths)
        if y is None:
            raise ValueError(f"{name}: this model is class-conditional; give the labels y")
        rows = self.class_bias(np.broadcast_to(np.asarray(y, dtype=np.int64), (n,)))
        ends = np.cumsum(self.bias_widths)
        return [ad.reshape(rows[:, end - w : end], (n, w, 1, 1))
                for w, end in zip(self.bias_widths, ends)]  # fmt: skip

    def logits(self, x: Tensor, y: Any = None) -> Tensor:
        """(n, C, K, H, W): the K numbers of every conditional (the network)."""
        raise NotImplementedError

    def _mixture(self, out: Tensor) -> D.DiscretizedLogisticMixture:
        """The logistic mixture from outputs (..., 3m): weight logits, means, log-scales."""
        m = self.mixtures
        log_scales = ad.maximum(out[..., 2 * m :], -7.0)  # as PixelCNN++: scales >= e^-7
        return D.DiscretizedLogisticMixture(
            out[..., :m], out[..., m : 2 * m], log_scales, self.levels
        )

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        x = self.as_input(x)
        out = self.logits(x, y)
        if self.mixtures:  # (n, C, 3m, H, W) -> (n, C, H, W, 3m); values rescaled to [-1, 1]
            per_value = self._mixture(ad.transpose(out, (0, 1, 3, 4, 2))).log_prob(self.scaled(x))
        else:
            per_value = value_log_likelihood(out, x)
        return ad.sum(per_value, axis=(1, 2, 3))

    def sample(self, n: int, rng: np.random.Generator, given: Any = None, mask: Any = None,
               y: Any = None) -> np.ndarray:  # fmt: skip
        """Raster order, channel by channel; with ``given`` and ``mask`` (True = observed, shape
        (C, H, W)), observed values are kept and the rest completed (see BinaryAutoregressive);
        ``y``: the class (or one per sample) of a class-conditional model."""
        C, H, W = self.info.shape
        flat, observed = completion_start(self, n, given, mask)
        x, observed = flat.reshape(n, C, H, W), observed.reshape(C, H, W)
        with ad.no_grad():
            for i in range(H):
                for j in range(W):
                    for c in range(C):
                        if not observed[c, i, j]:
                            out = self.logits(ad.Tensor(x), y).data[:, c, :, i, j]  # (n, K)
                            x[:, c, i, j] = self._draw_level(out, rng)
        return x

    def _draw_level(self, out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.mixtures:
            return draw(out, rng)
        value = self._mixture(ad.Tensor(out)).sample(rng=rng)  # in [-1, 1], on the grid
        return np.round((value + 1) / 2 * (self.levels - 1))


def value_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x_{c,i,j}) for each value from (n, C, K, H, W) logits: a Bernoulli for K = 1,
    x l - softplus(l), else the log-softmax entry of the observed level."""
    if logits.shape[2] == 1:
        l = logits[:, :, 0]
        return x * l - ad.softplus(l)
    return -F.cross_entropy(logits, x.data.astype(np.int64), reduction="none", dim=2)


def draw(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One value per row: Bernoulli for a single logit, else categorical by Gumbel-max."""
    if logits.shape[1] == 1:
        return rng.random(len(logits)) < expit(logits[:, 0])
    return np.argmax(logits - np.log(-np.log(rng.random(logits.shape))), axis=1)
