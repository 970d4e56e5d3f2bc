"""Training runs sized by wall-clock time: the step count that fills a budget of minutes, from
the measured time of a few Adam steps on a throwaway copy of the model."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from scratchgen import models, optim, train
from scratchgen.data import Dataset

WARMUP, TIMED = 3, 10  # steps run before the clock starts (first calls compile), steps timed


def _build(model: str | type, dataset: Dataset, settings: dict) -> Any:
    """A fresh model: a registered name's, or a model class's (one the CLI does not list)."""
    if isinstance(model, str):
        return models.create(model, dataset.info, **settings)
    return model(dataset.info, **settings)


def seconds_per_step(model: str | type, dataset: Dataset, settings: dict, batch: int,
                     lr: float) -> float:  # fmt: skip
    """Seconds of one training step of a fresh ``model`` (a registered name or a class) at
    this batch size."""
    probe = _build(model, dataset, settings)
    labels = probe.condition_data(dataset, "train")
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


def budget_steps(minutes: float, model: str | type, dataset: Dataset, settings: dict,
                 training: dict, out: Path) -> int:  # fmt: skip
    """The step count that fills ``minutes``: measured once and kept in ``out/budget.json``,
    so a run that stopped resumes to the same count (and a finished one only loads)."""
    config_path = out / "budget.json"
    if config_path.exists():
        return json.loads(config_path.read_text())["steps"]
    per_step = seconds_per_step(model, dataset, settings, training["batch_size"], training["lr"])
    steps = steps_for(minutes, per_step)
    out.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps({"steps": steps, "seconds_per_step": per_step}))
    print(f"{per_step:.2f} s per step: {steps} steps in {minutes} minutes", flush=True)
    return steps


def trained_for(minutes: float, model: str | type, dataset: Dataset, settings: dict,
                training: dict, out: Path) -> tuple[Any, train.Trainer]:  # fmt: skip
    """A ``model`` (a registered name or a class) trained for about ``minutes`` into ``out``
    (``budget_steps``). A registered model's folder gets the CLI's ``config.json`` too
    (``scratchgen sample`` reads it)."""
    steps = budget_steps(minutes, model, dataset, settings, training, out)
    built = _build(model, dataset, settings)
    config = train.TrainConfig(steps=steps, **training)
    trainer = train.Trainer(built, dataset, config, out=out, progress=sys.stderr.isatty())
    if isinstance(model, str):  # a registered model's folder reads back like the CLI's
        train.save_run_config(out, model, dataset.name, built, config)
    if (out / "checkpoint.npz").exists():
        trainer.load(out)
    if trainer.step < steps:  # not again for a finished run: fit ends in a full evaluation
        trainer.fit()
    return built, trainer
