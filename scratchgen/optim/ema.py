"""``EMA``: an exponential moving average of a model's parameters, for sampling."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from scratchgen.nn.module import Module


class EMA:
    """shadow <- decay shadow + (1 - decay) theta after each optimizer step. Averaged weights
    give smoother samples (diffusion models: Song & Ermon 2020, section 3.2). ``applied(model)``
    swaps the averages in for the duration of a ``with`` block."""

    def __init__(self, model: Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA: decay must lie in [0, 1), got {decay}")
        self.decay = decay
        self.shadow = {name: p.data.copy() for name, p in model.named_parameters()}

    def update(self, model: Module) -> None:
        for name, p in model.named_parameters():
            average = self.shadow[name]
            average *= self.decay
            average += (1 - self.decay) * p.data

    @contextlib.contextmanager
    def applied(self, model: Module) -> Iterator[Module]:
        params = dict(model.named_parameters())
        saved = {name: p.data for name, p in params.items()}
        try:
            for name, p in params.items():
                p.data = self.shadow[name].copy()
            yield model
        finally:
            for name, p in params.items():
                p.data = saved[name]

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: array.copy() for name, array in self.shadow.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA.load_state_dict: missing {sorted(missing)}")
        self.shadow = {
            name: np.array(state[name], dtype=a.dtype) for name, a in self.shadow.items()
        }
