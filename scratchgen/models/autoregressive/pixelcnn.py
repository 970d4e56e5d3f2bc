"""PixelCNN (van den Oord et al., "Pixel Recurrent Neural Networks", 2016, section 3.5).

Pixels are generated in raster order and, within a pixel, channel by channel (R, G, B):

    p(x) = prod_{i, j} prod_c p(x_{c,i,j} | all earlier pixels, channels < c of pixel (i, j))

A stack of masked convolutions computes every conditional in one pass: the first layer uses
mask A (the current pixel's own channel and later ones hidden), the rest mask B (a feature may
see the features of its own channel group at the same position, which were computed from
earlier inputs only). Channel groups carry the colour order through the whole network, and the
output has K logits per channel: K = 1 for binary data (a Bernoulli), K = levels for
categorical data (a softmax over grey levels). Sampling fills the image pixel by pixel and
channel by channel, one network pass each.

With ``output="logistic_mixture"`` a categorical channel is modelled instead by a
discretised mixture of ``mixtures`` logistics (PixelCNN++, Salimans et al. 2017, eq. 2):
3 numbers per component (weight logit, mean, log-scale) rather than one logit per level, and
nearby levels get nearby probabilities by construction. The channel groups already order the
colours, so no extra coupling between a pixel's channels is needed.

With ``num_classes`` > 0 the model is class-conditional, p(x | y): every layer adds a learned
bias per class to its features, h = conv(x) + b_l[y] (the conditional PixelCNN of van den Oord
et al. 2016b, eq. 4, with a one-hot class). A bias does not depend on x, so it cannot break the
ordering.

Symbols: C channels, H x W pixels, F features per layer, K outputs per channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit  # sigmoid without overflow

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.models.autoregressive.base import completion_start
from scratchgen.models.base import GenerativeModel, register
from scratchgen.nn import Embedding, MaskedConv2d, ModuleList


@register("pixelcnn", ("binary", "categorical"), "PixelCNN: masked convolutions, raster order",
          filters=32, layers=4, kernel_size=7, num_classes=0, output="auto",
          mixtures=5)  # fmt: skip
class PixelCNN(GenerativeModel):
    has_exact_likelihood = True

    def __init__(self, info: DataInfo, filters: int = 32, layers: int = 4, kernel_size: int = 7,
                 num_classes: int = 0, output: str = "auto", mixtures: int = 5,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, filters=filters, layers=layers, kernel_size=kernel_size,
                         num_classes=num_classes, output=output, mixtures=mixtures,
                         **hparams)  # fmt: skip
        if len(info.shape) != 3:
            raise ValueError(
                f"PixelCNN models images (C, H, W), not examples of shape {info.shape}"
            )
        C = info.shape[0]
        if filters % C:
            raise ValueError(f"PixelCNN: filters={filters} must split into {C} colour groups")
        self.levels = 2 if info.kind == "binary" else info.levels
        if output not in ("auto", "logistic_mixture"):
            raise ValueError(
                f"PixelCNN: output must be 'auto' or 'logistic_mixture', got {output!r}"
            )
        if output == "logistic_mixture" and info.kind != "categorical":
            raise ValueError("PixelCNN: a logistic mixture models categorical (grey-level) data")
        self.mixtures = mixtures if output == "logistic_mixture" else 0
        self.K = 3 * mixtures if self.mixtures else (1 if info.kind == "binary" else self.levels)
        rng = np.random.default_rng(hparams.get("seed", 0))

        def conv(c_in: int, c_out: int, k: int, mask: str) -> MaskedConv2d:
            return MaskedConv2d(c_in, c_out, k, mask, color_groups=C, rng=rng, dtype=self.dtype)

        self.input_layer = conv(C, filters, kernel_size, "A")
        self.blocks = ModuleList(conv(filters, filters, 3, "B") for _ in range(layers))
        self.hidden_head = conv(filters, filters, 1, "B")
        self.output_head = conv(filters, C * self.K, 1, "B")
        if num_classes:  # one bias per class for the input layer, each block and the hidden head
            self.class_bias = Embedding(
                num_classes, filters * (layers + 2), rng=rng, dtype=self.dtype
            )

    def _class_biases(self, y: Any, n: int) -> list[Tensor | float]:
        """One (n, F, 1, 1) bias per layer for labels y (zeros for an unconditional model)."""
        layers = len(self.blocks) + 2
        if not self.conditional:
            return [0.0] * layers
        if y is None:
            raise ValueError("PixelCNN: this model is class-conditional; give the labels y")
        F = self.input_layer.out_channels
        rows = self.class_bias(np.broadcast_to(np.asarray(y, dtype=np.int64), (n,)))
        return [ad.reshape(rows[:, l * F : (l + 1) * F], (n, F, 1, 1)) for l in range(layers)]

    def logits(self, x: Tensor, y: Any = None) -> Tensor:
        """(n, C, K, H, W) logits of every conditional (K = 1 for binary data)."""
        bias = self._class_biases(y, x.shape[0])
        h = self.input_layer(2 * x / (self.levels - 1) - 1) + bias[0]  # x in [-1, 1]
        for index, block in enumerate(self.blocks):
            # a residual of mask-B convolutions keeps the ordering
            h = h + block(ad.relu(h)) + bias[index + 1]
        h = self.hidden_head(ad.relu(h)) + bias[-1]
        out = self.output_head(ad.relu(h))
        n, _, H, W = out.shape
        return ad.reshape(out, (n, self.info.shape[0], self.K, H, W))

    def _mixture(self, out: Tensor) -> D.DiscretizedLogisticMixture:
        """The logistic mixture from outputs (..., 3m): weight logits, means, log-scales."""
        m = self.mixtures
        log_scales = ad.maximum(out[..., 2 * m :], -7.0)  # as PixelCNN++: scales >= e^-7
        return D.DiscretizedLogisticMixture(
            out[..., :m], out[..., m : 2 * m], log_scales, self.levels
        )

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        x = self.as_input(x)
        logits = self.logits(x, y)
        if self.mixtures:  # (n, C, 3m, H, W) -> (n, C, H, W, 3m); values rescaled to [-1, 1]
            mixture = self._mixture(ad.transpose(logits, (0, 1, 3, 4, 2)))
            per_value = mixture.log_prob(2 * x / (self.levels - 1) - 1)
        else:
            per_value = value_log_likelihood(logits, x)
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
                        if observed[c, i, j]:
                            continue
                        logits = self.logits(ad.Tensor(x), y).data[:, c, :, i, j]  # (n, K)
                        x[:, c, i, j] = self._draw_level(logits, rng)
        return x

    def _draw_level(self, out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.mixtures:
            return _draw(out, rng)
        value = self._mixture(ad.Tensor(out)).sample(rng=rng)  # in [-1, 1], on the grid
        return np.round((value + 1) / 2 * (self.levels - 1))


def value_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x_{c,i,j}) for each value from (n, C, K, H, W) logits: a Bernoulli for K = 1,
    x l - softplus(l), else the log-softmax entry of the observed level."""
    if logits.shape[2] == 1:
        l = logits[:, :, 0]
        return x * l - ad.softplus(l)
    index = x.data.astype(np.int64)[:, :, None]
    return ad.take_along_axis(ad.log_softmax(logits, axis=2), index, axis=2)[:, :, 0]


def _draw(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One value per row: Bernoulli for a single logit, else categorical by Gumbel-max."""
    if logits.shape[1] == 1:
        return rng.random(len(logits)) < expit(logits[:, 0])
    return np.argmax(logits - np.log(-np.log(rng.random(logits.shape))), axis=1)
