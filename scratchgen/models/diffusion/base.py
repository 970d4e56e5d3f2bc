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
from the unconditional half: the null class for every example."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.diffusion.guidance import classifier_free
from scratchgen.models.base import GenerativeModel
from scratchgen.models.signal import from_signal, to_signal
from scratchgen.nn.time_mlp import noise_conditional_network
from scratchgen.settings import Classes, Probability, Size

TIME_SCALE = 1000.0  # the network reads t in [0, 1000]: a discrete step's index, or 1000 t


class DiffusionModel(GenerativeModel):
    """The shared settings: ``hidden`` and ``embedding`` for the MLP; ``channels``,
    ``multipliers``, ``res_blocks``, ``attention`` (sides at which to attend) and ``groups``
    for the UNet; ``num_classes`` (0: unconditional) and ``p_uncond`` for the condition."""

    # Ho et al. 2020 and Song et al. 2021 sample with an average of decay 0.9999 (warmed up by
    # the trainer, so that short runs are not averaged toward their initial weights)
    ema_decay = 0.9999
    # the likelihood costs T network passes (the bound) or an ODE solve: ``scratchgen eval``
    likelihood_in_training = False

    def __init__(self, info: DataInfo, hidden: Sequence[Size] = (128, 128, 128),
                 embedding: Size = 32, channels: Size = 32, multipliers: Sequence[Size] = (1, 2, 2),
                 res_blocks: Size = 1, attention: Sequence[Size] | None = None,
                 groups: Size = 8, num_classes: Classes = 0, p_uncond: Probability = 0.1,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, hidden=list(hidden), embedding=embedding, channels=channels,
                         multipliers=list(multipliers), res_blocks=res_blocks, groups=groups,
                         attention=None if attention is None else list(attention),
                         num_classes=num_classes, p_uncond=p_uncond, **hparams)  # fmt: skip
        rng = np.random.default_rng([self.hparams["seed"], 6])
        self.image = len(info.shape) == 3
        self.net = noise_conditional_network(info.shape, self.hparams["hidden"], embedding,
                                             channels, multipliers, res_blocks, attention, groups,
                                             outputs=self.network_outputs(),
                                             num_classes=num_classes or None, rng=rng,
                                             dtype=self.dtype)  # fmt: skip

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
        labels (n,) with the null class K, or None for an unconditional network."""
        return self.net(ad.astype(x, self.dtype), t, y)

    def network_array(self, x: np.ndarray, t: Any, y: np.ndarray | None = None) -> np.ndarray:
        """f(x, t, y) as a float64 ndarray, without building a graph (for the samplers)."""
        with ad.no_grad():
            return self.network(Tensor(np.asarray(x, self.dtype)), t, y).data.astype(np.float64)

    # ------------------------------------------------------------ the condition
    def training_labels(self, y: Any, n: int) -> np.ndarray | None:
        """The labels the network sees in training: y with each replaced by the null class K
        with probability p_uncond (None for an unconditional model, which ignores y)."""
        if not self.conditional:
            return None
        labels = self._labels(y, n)
        dropped = self.rng.random(n) < self.hparams["p_uncond"]
        return np.where(dropped, self.hparams["num_classes"], labels)

    def condition_labels(self, y: Any, n: int, guidance: float = 0.0) -> np.ndarray | None:
        """The labels a chain runs under: y, or the null class K for every example when y is
        None. Guidance needs labels to guide toward; an unconditional model takes neither."""
        name = self.registered_name
        if not self.conditional:
            if y is not None or guidance:
                raise ValueError(f"{name}: this model is not class-conditional (num_classes=0); "
                                 "it takes no labels and no guidance")  # fmt: skip
            return None
        if y is None:
            if guidance:
                raise ValueError(f"{name}: guidance steers toward labels; give y")
            return np.full(n, self.hparams["num_classes"])
        return self._labels(y, n)

    def guided(self, fn: Callable[..., Any], y: Any, n: int, guidance: float) -> Callable:
        """fn(x, t) for the samplers from fn(x, t, labels) (an eps or a score: the guidance
        formula is linear, so it reads the same for both) under ``condition_labels``, with
        classifier-free guidance at weight ``guidance``."""
        labels = self.condition_labels(y, n, guidance)
        null = None if labels is None else np.full(n, self.hparams["num_classes"])
        return classifier_free(lambda x, t: fn(x, t, labels), lambda x, t: fn(x, t, null),
                               guidance)  # fmt: skip
