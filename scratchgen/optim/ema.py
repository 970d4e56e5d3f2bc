"""``EMA``: an exponential moving average of a model's parameters, for sampling."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from scratchgen.nn.module import Module

UPDATES_KEY = "__updates__"  # the count of updates, kept beside the averages in state_dict


class EMA:
    """shadow <- d shadow + (1 - d) theta after each optimizer step. Averaged weights give
    smoother samples (diffusion models: Song & Ermon 2020, section 3.2). ``applied(model)``
    swaps the averages in for the duration of a ``with`` block.

    d is ``decay``, or with ``warmup`` min(decay, (1 + k) / (10 + k)) at the k-th update (the
    rule of TensorFlow's ExponentialMovingAverage): the papers' 0.9999 averages over about
    10 000 steps, so without a warm-up a short run's average is still mostly the untrained
    initial weights, and samples from it are noise. The average covers parameters only, never
    buffers (a noise schedule, a normaliser's statistics), which stay the model's own."""

    def __init__(self, model: Module, decay: float = 0.999, warmup: bool = False) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA: decay must lie in [0, 1), got {decay}")
        self.decay, self.warmup, self.updates = decay, warmup, 0
        self.shadow = {name: p.data.copy() for name, p in model.named_parameters()}

    def current_decay(self) -> float:
        """d at the next update."""
        k = self.updates
        return min(self.decay, (1 + k) / (10 + k)) if self.warmup else self.decay

    def update(self, model: Module) -> None:
        d = self.current_decay()
        self.updates += 1
        for name, p in model.named_parameters():
            average = self.shadow[name]
            average *= d
            average += (1 - d) * p.data

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
        return {**{name: array.copy() for name, array in self.shadow.items()},
                UPDATES_KEY: np.array(self.updates)}  # fmt: skip

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.updates = int(state.get(UPDATES_KEY, 0))
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA.load_state_dict: missing {sorted(missing)}")
        self.shadow = {
            name: np.array(state[name], dtype=a.dtype) for name, a in self.shadow.items()
        }
