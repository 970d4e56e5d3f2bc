"""What the diffusion models share: the network f(x, t) (the UNet on images, an MLP with a
time embedding on vectors), the space they compute in (images as levels mapped onto [-1, 1],
``scratchgen.models.signal``), and the papers' average of the weights for sampling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel
from scratchgen.models.signal import from_signal, to_signal
from scratchgen.nn.time_mlp import noise_conditional_network
from scratchgen.settings import Size

TIME_SCALE = 1000.0  # the network reads t in [0, 1000]: a discrete step's index, or 1000 t


class DiffusionModel(GenerativeModel):
    """The shared settings: ``hidden`` and ``embedding`` for the MLP; ``channels``,
    ``multipliers``, ``res_blocks``, ``attention`` (sides at which to attend) and ``groups``
    for the UNet."""

    # Ho et al. 2020 and Song et al. 2021 sample with an average of decay 0.9999 (warmed up by
    # the trainer, so that short runs are not averaged toward their initial weights)
    ema_decay = 0.9999
    # the likelihood costs T network passes (the bound) or an ODE solve: ``scratchgen eval``
    likelihood_in_training = False

    def __init__(self, info: DataInfo, hidden: Sequence[Size] = (128, 128, 128),
                 embedding: Size = 32, channels: Size = 32, multipliers: Sequence[Size] = (1, 2, 2),
                 res_blocks: Size = 1, attention: Sequence[Size] | None = None,
                 groups: Size = 8, **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, hidden=list(hidden), embedding=embedding, channels=channels,
                         multipliers=list(multipliers), res_blocks=res_blocks, groups=groups,
                         attention=None if attention is None else list(attention),
                         **hparams)  # fmt: skip
        rng = np.random.default_rng([self.hparams["seed"], 6])
        self.image = len(info.shape) == 3
        self.net = noise_conditional_network(info.shape, self.hparams["hidden"], embedding,
                                             channels, multipliers, res_blocks, attention, groups,
                                             outputs=self.network_outputs(), rng=rng,
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

    def network(self, x: Tensor, t: Any) -> Tensor:
        """f(x, t) on a Tensor, t the network's time input (n,) in [0, TIME_SCALE]."""
        return self.net(ad.astype(x, self.dtype), t)

    def network_array(self, x: np.ndarray, t: Any) -> np.ndarray:
        """f(x, t) as a float64 ndarray, without building a graph (for the samplers)."""
        with ad.no_grad():
            return self.network(Tensor(np.asarray(x, self.dtype)), t).data.astype(np.float64)
