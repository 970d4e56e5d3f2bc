"""What the diffusion models share: the network f(x, t) (the UNet on images, an MLP with a
time embedding on vectors), the space they compute in (images as levels mapped onto [-1, 1],
``scratchgen.models.signal``), the papers' average of the weights for sampling, and the class
condition with classifier-free guidance (Ho & Salimans 2022).

With ``num_classes`` = K > 0 the network reads a label y in [0, K) as f(x, t, y), and K itself
is the null class (a learned embedding of its own). Training replaces each example's label by
the null class with probability ``p_uncond`` (the paper's section 3.2), so that one network
learns both eps(x_t, c) and eps(x_t); sampling never drops a label, and at guidance weight w
combines the two as (1 + w) eps(x_t, c) - w eps(x_t) (``scratchgen.diffusion.guidance``, whose
docstring gives the other convention). ``sample(n, rng, y=None)`` on a conditional model draws
from the unconditional half: the null class for every example.

With ``condition="caption"`` the condition is a caption of the shapes world instead
(``scratchgen.data.captions``): a ``TextEncoder`` (a small Transformer trained jointly) turns
its words into vectors that the UNet attends to by cross-attention at its attention sides
(Rombach et al. 2022, section 3.3; GLIDE, Nichol et al. 2022, does the same). The empty
caption, the begin token alone, is the learned null condition; training drops a caption to it
with probability ``p_uncond`` and first leaves each attribute unsaid with probability
``p_omit``, so that the model also reads partial captions ("a red shape"). ``sample(n, rng,
caption=[...])`` (one caption, or one per sample), and ``loss(x, y)`` and ``log_prob(x, y)``
take the captions as y, as the trainer passes them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo, Dataset
from scratchgen.data import captions as text
from scratchgen.diffusion.guidance import classifier_free
from scratchgen.models.base import GenerativeModel
from scratchgen.models.signal import from_signal, to_signal
from scratchgen.nn import TextEncoder
from scratchgen.nn.time_mlp import noise_conditional_network
from scratchgen.settings import Classes, Probability, Size
from scratchgen.traces import exact_trace, hutchinson_trace

TIME_SCALE = 1000.0  # the network reads t in [0, 1000]: a discrete step's index, or 1000 t


class DiffusionModel(GenerativeModel):
    """The shared settings: ``hidden`` and ``embedding`` for the MLP; ``channels``,
    ``multipliers``, ``res_blocks``, ``attention`` (sides at which to attend) and ``groups``
    for the UNet; ``num_classes`` (0: unconditional) and ``p_uncond`` for the condition;
    ``condition="caption"`` with ``text_width``, ``text_layers``, ``text_heads`` (the caption
    encoder) and ``p_omit`` for captions, the attention then at every side but the image's own
    unless ``attention`` names the sides."""

    # Ho et al. 2020 and Song et al. 2021 sample with an average of decay 0.9999 (warmed up by
    # the trainer, so that short runs are not averaged toward their initial weights)
    ema_decay = 0.9999
    # the likelihood costs T network passes (the bound) or an ODE solve: ``scratchgen eval``
    likelihood_in_training = False

    def __init__(self, info: DataInfo, hidden: Sequence[Size] = (128, 128, 128),
                 embedding: Size = 32, channels: Size = 32, multipliers: Sequence[Size] = (1, 2, 2),
                 res_blocks: Size = 1, attention: Sequence[Size] | None = None,
                 groups: Size = 8, num_classes: Classes = 0, p_uncond: Probability = 0.1,
                 condition: Literal["none", "caption"] = "none", text_width: Size = 32,
                 text_layers: Size = 2, text_heads: Size = 4, p_omit: Probability = 0.25,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, hidden=list(hidden), embedding=embedding, channels=channels,
                         multipliers=list(multipliers), res_blocks=res_blocks, groups=groups,
                         attention=None if attention is None else list(attention),
                         num_classes=num_classes, p_uncond=p_uncond, condition=condition,
                         text_width=text_width, text_layers=text_layers, text_heads=text_heads,
                         p_omit=p_omit, **hparams)  # fmt: skip
        rng = np.random.default_rng([self.hparams["seed"], 6])
        self.image = len(info.shape) == 3
        if self.captioned:
            attention = self._caption_attention(attention)
            self.text = TextEncoder(len(text.VOCABULARY), text_width, text_layers, text_heads,
                                    text.LENGTH, text.PAD, rng=rng, dtype=self.dtype)  # fmt: skip
        self.net = noise_conditional_network(info.shape, self.hparams["hidden"], embedding,
                                             channels, multipliers, res_blocks, attention, groups,
                                             outputs=self.network_outputs(),
                                             num_classes=num_classes or None,
                                             context_dim=text_width if self.captioned else None,
                                             rng=rng, dtype=self.dtype)  # fmt: skip

    @property
    def captioned(self) -> bool:
        return self.hparams["condition"] == "caption"

    def _caption_attention(self, attention: Sequence[int] | None) -> Sequence[int]:
        """The sides the UNet attends to the caption at: those given, or all but the image's."""
        name = self.registered_name
        if not self.image:
            raise ValueError(f"{name}: condition=caption conditions the UNet, on images")
        if self.conditional:
            raise ValueError(f"{name}: condition on captions or on classes (num_classes), not "
                             "both")  # fmt: skip
        if attention is not None:
            return attention
        side, sides = self.info.shape[1], []
        for _ in self.hparams["multipliers"][1:]:
            side //= 2
            sides.append(side)
        if not sides:
            raise ValueError(f"{name}: condition=caption needs a level below the image's side "
                             "(two multipliers or more) or attention at it")  # fmt: skip
        return sides

    def network_outputs(self) -> int:
        """How many maps of the data's shape the network returns (its settings are known)."""
        return 1

    def signal(self, x: Any) -> np.ndarray:
        """Data -> the model's space (images onto [-1, 1]), in the model's dtype."""
        array = self.as_input(x).data
        return to_signal(array, self.info).astype(self.dtype)

    def from_signal(self, s: np.ndarray) -> np.ndarray:
        return from_signal(np.clip(s, -1, 1) if self.image else s, self.info)

    def network(self, x: Tensor, t: Any, y: np.ndarray | None = None) -> Tensor:
        """f(x, t, y) on a Tensor, t the network's time input (n,) in [0, TIME_SCALE], y the
        labels (n,) with the null class K, a captioned model's word tokens (n, L), or None for
        an unconditional network."""
        x = ad.astype(x, self.dtype)
        if self.captioned:
            return self.net(x, t, context=self.text(y), context_mask=y != text.PAD)
        return self.net(x, t, y)

    def network_array(self, x: np.ndarray, t: Any, y: np.ndarray | None = None) -> np.ndarray:
        """f(x, t, y) as a float64 ndarray, without building a graph (for the samplers)."""
        with ad.no_grad():
            return self.network(Tensor(np.asarray(x, self.dtype)), t, y).data.astype(np.float64)

    # ------------------------------------------------------------ ODE likelihoods
    def divergence(self, field: Callable[..., Tensor], x: np.ndarray, t: np.ndarray,
                   y: np.ndarray | None, z: np.ndarray | None) -> np.ndarray:  # fmt: skip
        """div_x field(x, t, y) by backpropagation, (n,): the exact trace (z None) or
        Hutchinson's z^T (d field / dx) z; field is a Tensor function (a score, a velocity)."""
        with ad.enable_grad():
            inputs = Tensor(np.asarray(x, self.dtype), requires_grad=True)
            out = field(inputs, t, y)
            trace = (exact_trace(out, inputs, False) if z is None
                     else hutchinson_trace(out, inputs, z.astype(self.dtype), False))  # fmt: skip
        return trace.data.astype(np.float64)

    def dequantized(self, x: Any) -> tuple[np.ndarray, float]:
        """The data an ODE likelihood is taken on, and the offset that makes it a bound on the
        discrete log P(x): continuous data as they are (offset 0); levels dequantised by one
        draw of u, y = 2 (x + u) / L - 1, u ~ U[0, 1)^D, with -log P(x) <= -log p(y) +
        D log(L / 2) (the cell of each level has width 2 / L in [-1, 1]; Theis et al. 2016)."""
        array = self.as_input(x).data.astype(np.float64)
        if self.info.kind == "continuous":
            return array, 0.0
        levels = 2 if self.info.kind == "binary" else self.info.levels
        y = 2 * (array + self.rng.uniform(size=array.shape)) / levels - 1
        return y, self.info.dims * math.log(levels / 2)

    def likelihood_probe(self, y: np.ndarray) -> np.ndarray | None:
        """Hutchinson's Rademacher probe on images (one per solve), None (the exact trace, D
        backward passes) on vectors."""
        return self.rng.choice([-1.0, 1.0], size=y.shape) if self.image else None

    # ------------------------------------------------------------ the condition
    def condition_data(self, data: Dataset, split: str) -> np.ndarray | None:
        """A captioned model's condition is each scene's caption (``extras``), as strings."""
        if not self.captioned:
            return super().condition_data(data, split)
        found = data.extras.get(f"{split}_captions")
        if found is None:
            raise ValueError(f"{self.registered_name}: condition=caption needs captions, and "
                             f"{data.name} has none (the shapes scenes do)")  # fmt: skip
        return np.asarray(found)

    def given_condition(self, y: Any, caption: Any) -> Any:
        """The condition a sampler was given: a captioned model's captions (as ``caption``, or
        as y), else the labels y; a caption for a model without captions is refused."""
        if caption is None:
            return y
        if not self.captioned:
            raise ValueError(f"{self.registered_name}: this model was trained without captions "
                             "(condition=none); it takes no caption")  # fmt: skip
        if y is not None:
            raise ValueError(f"{self.registered_name}: give the captions once, as caption=")
        return caption

    def _captions(self, y: Any, n: int) -> list[str]:
        """One caption per example: a single caption is repeated."""
        captions = [y] if isinstance(y, str) else list(np.asarray(y, dtype=object).ravel())
        if not all(isinstance(c, str) for c in captions):
            raise ValueError(f"{self.registered_name}: this model reads captions "
                             "(condition=caption): give caption=[...], not labels")  # fmt: skip
        if len(captions) == 1:
            captions *= n
        if len(captions) != n:
            raise ValueError(f"{self.registered_name}: {len(captions)} captions for {n} "
                             "examples")  # fmt: skip
        return captions

    def network_labels(self, y: Any, guidance: float, unconditional: bool,
                       classifier: Any) -> Any:  # fmt: skip
        """The labels the network reads when a sampler is asked for y: y, or None (the null
        class, or no labels at all) with ``unconditional``, and with a noisy ``classifier``
        guiding toward y, y only on a class-conditional model. Refused: classifier-free
        guidance without the labels, and a classifier without y or on a captioned model."""
        name = self.registered_name
        if unconditional and guidance:
            raise ValueError(f"{name}: classifier-free guidance needs the network's labels; "
                             "unconditional=True leaves them out")  # fmt: skip
        if classifier is None:
            return None if unconditional else y
        if self.captioned:
            raise ValueError(f"{name}: a noisy classifier guides toward labels; this model "
                             "reads captions (guide it by guidance=)")  # fmt: skip
        if y is None:
            raise ValueError(f"{name}: classifier guidance steers toward labels; give y")
        return y if self.conditional and not unconditional else None

    def null_condition(self, n: int) -> np.ndarray | None:
        """What the network reads for "no condition": the null class K, the empty caption's
        tokens, or None for an unconditional model."""
        if self.captioned:
            return text.tokenize([""] * n)
        return np.full(n, self.hparams["num_classes"]) if self.conditional else None

    def training_labels(self, y: Any, n: int) -> np.ndarray | None:
        """The condition the network sees in training: y with each replaced by the null one
        with probability p_uncond (None for an unconditional model, which ignores y); a
        caption is first made partial, each attribute unsaid with probability p_omit."""
        if not (self.captioned or self.conditional):
            return None  # and draws nothing: the model's random stream is the loss's alone
        dropped = self.rng.random(n) < self.hparams["p_uncond"]
        if self.captioned:
            captions = [text.partial(c, self.rng, self.hparams["p_omit"])
                        for c in self._captions(y, n)]  # fmt: skip
            return text.tokenize(["" if d else c for c, d in zip(captions, dropped)])
        return np.where(dropped, self.hparams["num_classes"], self._labels(y, n))

    def condition_labels(self, y: Any, n: int, guidance: float = 0.0) -> np.ndarray | None:
        """The condition a chain runs under: labels y (a captioned model's captions, as
        tokens), or the null condition for every example when y is None. Guidance needs a
        condition to guide toward; an unconditional model takes neither."""
        name = self.registered_name
        if self.captioned:
            if y is None and guidance:
                raise ValueError(f"{name}: guidance steers toward captions; give caption=")
            return self.null_condition(n) if y is None else text.tokenize(self._captions(y, n))
        if not self.conditional:
            if y is not None or guidance:
                raise ValueError(f"{name}: this model is not class-conditional (num_classes=0); "
                                 "it takes no labels and no guidance")  # fmt: skip
            return None
        if y is None:
            if guidance:
                raise ValueError(f"{name}: guidance steers toward labels; give y")
            return self.null_condition(n)
        return self._labels(y, n)

    def guided(self, fn: Callable[..., Any], y: Any, n: int, guidance: float) -> Callable:
        """fn(x, t) for the samplers from fn(x, t, labels) (an eps or a score: the guidance
        formula is linear, so it reads the same for both) under ``condition_labels``, with
        classifier-free guidance at weight ``guidance``."""
        labels = self.condition_labels(y, n, guidance)
        null = self.null_condition(n)
        return classifier_free(lambda x, t: fn(x, t, labels), lambda x, t: fn(x, t, null),
                               guidance)  # fmt: skip
