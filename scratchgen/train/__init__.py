"""Training: ``Trainer`` and ``TrainConfig`` (the shared loop), ``fit`` (one call), and the
atomic checkpoint files, and ``load_run`` (a finished run's model)."""

from __future__ import annotations

from pathlib import Path

from scratchgen.data import Dataset
from scratchgen.models import GenerativeModel
from scratchgen.train.checkpoint import CheckpointError, WriteError
from scratchgen.train.lock import FolderInUse, folder_lock
from scratchgen.train.runs import load_run, save_run_config
from scratchgen.train.trainer import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingStopped,
    evaluate,
)


def fit(model: GenerativeModel, data: Dataset, out: Path | None = None, progress: bool = True,
        **config) -> dict[str, float]:  # fmt: skip
    """Train with ``TrainConfig(**config)``; returns the final test metrics. With ``out`` the
    folder is a run like the CLI's: a registered model's ``config.json`` is written too, so
    that ``load_run``, ``scratchgen sample`` and settings that name a run read it."""
    settings = TrainConfig.from_dict(config)
    trainer = Trainer(model, data, settings, out, progress)
    if out is not None and model.registered_name is not None:
        save_run_config(Path(out), model.registered_name, data.name, model, settings)
    return trainer.fit()


__all__ = [
    "Trainer",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingStopped",
    "CheckpointError",
    "WriteError",
    "FolderInUse",
    "folder_lock",
    "evaluate",
    "load_run",
    "save_run_config",
    "fit",
]
