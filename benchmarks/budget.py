"""Training runs sized by wall-clock time: the step count that fills a budget of minutes, from
the measured time of a few Adam steps on a throwaway copy of the model."""

from __future__ import annotations

import time

import numpy as np

from scratchgen import models, optim
from scratchgen.data import Dataset

WARMUP, TIMED = 3, 10  # steps run before the clock starts (first calls compile), steps timed


def seconds_per_step(registered: str, dataset: Dataset, settings: dict, batch: int,
                     lr: float) -> float:  # fmt: skip
    """Seconds of one training step of a fresh ``registered`` model at this batch size."""
    probe = models.create(registered, dataset.info, **settings)
    labels = dataset.train_labels if probe.conditional else None
    probe.initialize(dataset.train, np.random.default_rng(0))
    optimizer = optim.Adam(list(probe.parameters()), lr)
    for step in range(WARMUP + TIMED):
        if step == WARMUP:
            start = time.perf_counter()
        rows = slice(step * batch, (step + 1) * batch)
        loss = probe.loss(dataset.train[rows], None if labels is None else labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / TIMED


def steps_for(minutes: float, per_step: float) -> int:
    return max(1, int(minutes * 60 / per_step))
