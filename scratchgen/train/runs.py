"""A run folder's description (``config.json``: the model, its settings, the data, the
training), written when a run starts, and the folder read back as the model it trained."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from scratchgen import data as data_module
from scratchgen import models
from scratchgen.optim.ema import UPDATES_KEY
from scratchgen.train.checkpoint import CheckpointError, load_arrays, load_json, save_json
from scratchgen.train.trainer import TrainConfig


def save_run_config(folder: Path, model_name: str, data_name: str,
                    model: models.GenerativeModel, config: TrainConfig) -> None:  # fmt: skip
    """``folder/config.json``: what ``load_run`` rebuilds the model from."""
    info = model.info
    save_json(Path(folder) / "config.json", {
        "model": model_name, "data": data_name, "hparams": model.hparams, "train": asdict(config),
        "info": {"shape": list(info.shape), "kind": info.kind, "levels": info.levels},
    })  # fmt: skip


def load_run(folder: Path) -> tuple[models.GenerativeModel, dict[str, Any]]:
    """(model with its trained weights, the run's config) from a run folder. The averaged
    (EMA) weights are used when the run kept them."""
    config = load_json(folder / "config.json")
    try:
        info = data_module.DataInfo(tuple(config["info"]["shape"]), config["info"]["kind"],
                                    config["info"]["levels"])  # fmt: skip
        name, hparams = config["model"], dict(config["hparams"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{folder / 'config.json'}: not the config of a run "
                              f"({type(error).__name__}: {error})") from None  # fmt: skip
    model = models.create(name, info, **hparams)
    path = folder / "checkpoint.npz"
    arrays = load_arrays(path)
    prefix = "ema/" if any(k.startswith("ema/") for k in arrays) else "model/"
    weights = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
    weights.pop(UPDATES_KEY, None)  # the average's count of updates, not a weight
    buffers = {k.removeprefix("model/"): v for k, v in arrays.items() if k.startswith("model/")}
    try:
        model.load_state_dict({**buffers, **weights})
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"{path} does not fit the {name} model that config.json "
                              f"describes: {error.args[0]}") from None  # fmt: skip
    return model.eval(), config


def load_model_run(folder: str | Path, names: tuple[str, ...], info: data_module.DataInfo,
                   owner: str, role: str) -> models.GenerativeModel:  # fmt: skip
    """The trained model of run ``folder`` that model ``owner`` uses as its ``role`` (a
    teacher, an autoencoder): refused in one line unless it is one of the registered ``names``
    and was trained on data that ``info`` describes."""
    model, config = load_run(Path(folder))
    if config["model"] not in names or model.info != info:
        raise ValueError(f"{owner}: the {role} in {folder} is a {config['model']} on data of "
                         f"shape {model.info.shape}; it must be a {' or '.join(names)} trained "
                         f"on this data, of shape {info.shape}")  # fmt: skip
    return model
