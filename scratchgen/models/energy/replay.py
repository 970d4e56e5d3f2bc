"""The replay buffer of short-run MCMC chains (Du & Mordatch 2019, section 2.1): contrastive
divergence starts each step's chains from where earlier steps' chains ended, so that a few
Langevin steps per training step add up to long chains, and a fraction of them from fresh
noise, so that the buffer does not lose the modes it has not visited for a while."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scratchgen.nn import Module

Fresh = Callable[[int, np.random.Generator], np.ndarray]


class ReplayBuffer(Module):
    """``size`` stored chains of shape ``shape``. ``starts(n, rng)`` draws n distinct stored
    chains and replaces exactly round(reinit n) of them, at random positions, by fresh draws
    (Du & Mordatch draw each with probability 0.05: a fixed count has the same mean and no
    variance); ``store(index, x)`` writes the chains back where they came from, so the
    buffer's size never changes. The chains are a buffer of the module, saved with the model,
    so a resumed run continues from the same chains."""

    def __init__(self, size: int, shape: tuple[int, ...], reinit: float, fresh: Fresh,
                 rng: np.random.Generator, dtype: np.dtype) -> None:  # fmt: skip
        super().__init__()
        if not 0 <= reinit <= 1:
            raise ValueError(f"ReplayBuffer: reinit must lie in [0, 1], got {reinit}")
        self.reinit, self.fresh = reinit, fresh
        self.register_buffer(
            "chains", np.asarray(fresh(size, rng), dtype=dtype).reshape(size, *shape)
        )

    def __len__(self) -> int:
        return len(self.chains)

    def refill(self, rng: np.random.Generator) -> None:
        """Every stored chain from fresh noise (after the fresh-start law changed)."""
        self.chains[...] = self.fresh(len(self), rng).reshape(self.chains.shape)

    def starts(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(index, x0): which stored chains were drawn, and where each chain starts."""
        if n > len(self):
            raise ValueError(f"ReplayBuffer: a batch of {n} chains exceeds the buffer's "
                             f"{len(self)}; raise buffer_size or lower batch_size")  # fmt: skip
        index = rng.choice(len(self), size=n, replace=False)
        x0 = self.chains[index]
        restart = rng.choice(n, size=round(self.reinit * n), replace=False)
        x0[restart] = self.fresh(len(restart), rng).reshape((len(restart), *x0.shape[1:]))
        return index, x0

    def store(self, index: np.ndarray, x: np.ndarray) -> None:
        self.chains[index] = x
