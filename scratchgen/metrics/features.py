"""Feature networks for FID and KID, trained here: no downloaded weights, no network.

A feature-based score means nothing apart from the network that made the features, so every
score says which one it used: ``FeatureNetwork.name`` is "scratchgen_digits" for the digits,
and results are keyed ``fid_scratchgen_digits``, never a bare "fid" (Inception features and
these are not comparable).

Each network is a small convolutional classifier trained by the shared ``Trainer`` with a fixed
recipe and seed, then cached under ``$SCRATCHGEN_DATA/features/`` as .npz + JSON, named by a
hash of its recipe: a changed recipe trains a new network instead of reusing a stale one.

    x -> conv 3x3 (f1) -> ReLU -> conv 3x3 stride 2 (f2) -> ReLU -> conv 3x3 stride 2 (f2)
      -> ReLU -> linear (F) -> ReLU = features(x) -> linear -> class logits
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo
from scratchgen.models.base import GenerativeModel
from scratchgen.nn import Conv2d, Linear, ReLU, Sequential
from scratchgen.settings import Classes, Size

RECIPE_VERSION = 1  # bump when the architecture or training changes, so caches are not reused


@dataclass(frozen=True)
class Recipe:
    filters: tuple[int, int] = (16, 32)
    features: int = 64
    steps: int = 800
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0


RECIPES = {
    "digits": Recipe(),
    "mnist": Recipe(filters=(32, 64), features=128, steps=2000, batch_size=128, lr=2e-3),
    "fashion_mnist": Recipe(filters=(32, 64), features=128, steps=2000, batch_size=128, lr=2e-3),
}


class FeatureNetwork(GenerativeModel):
    """The classifier whose penultimate layer gives the features. ``test_accuracy`` and
    ``name`` are set by ``feature_network``."""

    def __init__(self, info: DataInfo, num_classes: Classes = 10,
                 filters: Sequence[Size] = (16, 32), features: Size = 64,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, num_classes=num_classes, filters=list(filters),
                         features=features, **hparams)  # fmt: skip
        if len(info.shape) != 3 or info.shape[1] % 4 or info.shape[2] % 4:
            raise ValueError(f"a feature network needs images (C, H, W) with H and W divisible "
                             f"by 4, got {info.shape}")  # fmt: skip
        rng, dt = np.random.default_rng(self.hparams["seed"]), self.dtype
        (C, H, W), (f1, f2) = info.shape, filters
        self.body = Sequential(
            Conv2d(C, f1, 3, padding=1, rng=rng, dtype=dt), ReLU(),
            Conv2d(f1, f2, 3, stride=2, padding=1, rng=rng, dtype=dt), ReLU(),
            Conv2d(f2, f2, 3, stride=2, padding=1, rng=rng, dtype=dt), ReLU(),
        )  # fmt: skip
        self.project = Linear(f2 * (H // 4) * (W // 4), features, rng=rng, dtype=dt)
        self.head = Linear(features, num_classes, rng=rng, dtype=dt)
        self.scale = 1.0 / ((info.levels or 2) - 1) if info.kind != "continuous" else 1.0
        self.test_accuracy, self.name = float("nan"), "untrained"

    def _features(self, x: Any) -> Tensor:
        h = self.body(self.as_input(x) * self.scale)
        return ad.relu(self.project(ad.reshape(h, (h.shape[0], -1))))

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """Cross-entropy, -1/n sum_i log softmax(logits(x_i))_{y_i}."""
        logits = self.head(self._features(x))
        return -ad.mean(D.Categorical(logits=logits).log_prob(np.asarray(y)))

    def features(self, x: Any, batch: int = 500) -> np.ndarray:
        """The penultimate layer, (n, F), in batches."""
        with ad.no_grad():
            return np.concatenate([self._features(x[i : i + batch]).data
                                   for i in range(0, len(x), batch)])  # fmt: skip

    def classify(self, x: Any) -> np.ndarray:
        with ad.no_grad():
            return np.argmax(self.head(ad.Tensor(self.features(x))).data, axis=1)

    predict = classify


def _cache_path(dataset_name: str, recipe: Recipe) -> Path:
    from scratchgen.data import data_dir

    text = json.dumps({"dataset": dataset_name, "version": RECIPE_VERSION, **asdict(recipe)},
                      sort_keys=True)  # fmt: skip
    return (
        data_dir() / "features" / f"{dataset_name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    )


def feature_network(dataset_name: str, recipe: Recipe | None = None,
                    progress: bool = True) -> FeatureNetwork:  # fmt: skip
    """The feature network for a dataset (``RECIPES``), loaded from the cache or trained once
    (with a progress bar) and cached."""
    from scratchgen import data, train
    from scratchgen.train.checkpoint import load_arrays, load_json, save_arrays, save_json

    if recipe is None:
        if dataset_name not in RECIPES:
            raise KeyError(f"no feature network for {dataset_name!r}: there are "
                           f"{', '.join(RECIPES)}")  # fmt: skip
        recipe = RECIPES[dataset_name]
    dataset = data.load(dataset_name)
    if dataset.train_labels is None:
        raise ValueError(f"{dataset_name} has no labels to train a feature network on")
    classes = int(max(dataset.train_labels.max(), dataset.test_labels.max())) + 1
    network = FeatureNetwork(dataset.info, num_classes=classes, filters=recipe.filters,
                             features=recipe.features, seed=recipe.seed)  # fmt: skip
    path = _cache_path(dataset_name, recipe)
    if path.with_suffix(".npz").exists():
        network.load_state_dict(load_arrays(path.with_suffix(".npz")))
        network.test_accuracy = float(load_json(path.with_suffix(".json"))["test_accuracy"])
    else:
        metrics = train.fit(network, dataset, progress=progress, steps=recipe.steps,
                            batch_size=recipe.batch_size, lr=recipe.lr, seed=recipe.seed,
                            eval_every=10**9)  # fmt: skip
        network.test_accuracy = float(metrics["test_accuracy"])
        save_arrays(path.with_suffix(".npz"), network.state_dict())
        save_json(path.with_suffix(".json"), {"dataset": dataset_name, "recipe": asdict(recipe),
                                              "test_accuracy": network.test_accuracy})  # fmt: skip
    network.name = f"scratchgen_{dataset_name}"
    return network.eval()
