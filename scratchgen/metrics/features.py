"""Feature networks for FID and KID, trained here: no downloaded weights, no network.

A feature-based score means nothing apart from the network that made the features, so every
score says which one it used: ``FeatureNetwork.name`` is "scratchgen_digits" for the digits,
and results are keyed ``fid_scratchgen_digits``, never a bare "fid" (Inception features and
these are not comparable).

Each network is a small convolutional classifier trained by the shared ``Trainer`` with a fixed
recipe and seed, then cached under ``$SCRATCHGEN_DATA/features/`` (or ``$SCRATCHGEN_FEATURES``,
for a read-only data folder) as .npz + JSON, named by a hash of its recipe: a changed recipe
trains a new network instead of reusing a stale one.

    x -> conv 3x3 (f1) -> ReLU -> conv 3x3 stride 2 (f2) -> ReLU -> conv 3x3 stride 2 (f2)
      -> ReLU -> linear (F) -> ReLU = features(x) -> linear -> logits of each head

A head is one classification: the digit for the digit datasets; for the shapes, one per column
of ``data.shapes.ATTRIBUTES`` (how many objects, and each one's kind, colour, size and place), so
that generated scenes can be checked against their captions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen import distributions as D
from scratchgen.data import DataInfo, Dataset
from scratchgen.models.base import GenerativeModel
from scratchgen.nn import Conv2d, Linear, ReLU, Sequential
from scratchgen.settings import Classes, Size

RECIPE_VERSION = 2  # bump when the architecture or training changes, so caches are not reused


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
    "digits_binary": Recipe(),
    "mnist": Recipe(filters=(32, 64), features=128, steps=1200, batch_size=128, lr=2e-3),
    "fashion_mnist": Recipe(filters=(32, 64), features=128, steps=1200, batch_size=128, lr=2e-3),
    "shapes": Recipe(filters=(32, 64), features=128, steps=900, batch_size=64, lr=2e-3),
    "binarized_mnist": Recipe(filters=(32, 64), features=128, steps=1200, batch_size=128, lr=2e-3),
}


class FeatureNetwork(GenerativeModel):
    """The classifier whose penultimate layer gives the features, with one head of ``classes[h]``
    classes per target column h. ``name``, ``heads`` (the columns' names), ``test_accuracy``
    (the fraction of test examples with every head right) and ``head_accuracy`` (per head) are
    set by ``feature_network``."""

    def __init__(self, info: DataInfo, classes: Sequence[Classes] = (10,),
                 filters: Sequence[Size] = (16, 32), features: Size = 64,
                 **hparams: Any) -> None:  # fmt: skip
        super().__init__(info, classes=list(classes), filters=list(filters),
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
        self.head = Linear(features, sum(classes), rng=rng, dtype=dt)
        self.offsets = np.cumsum([0, *classes])  # head h owns logits offsets[h]:offsets[h + 1]
        self.scale = 1.0 / ((info.levels or 2) - 1) if info.kind != "continuous" else 1.0
        self.name, self.heads = "untrained", tuple(f"head_{h}" for h in range(len(classes)))
        self.test_accuracy, self.head_accuracy = float("nan"), {}
        # features are divided by their root mean square over the training images, so that
        # x.y / F is of order one in KID's kernel (x.y / F + 1)^3, whatever the network
        self.register_buffer("feature_rms", np.ones(1))

    @property
    def conditional(self) -> bool:
        return True  # the trainer hands it the labels, which are its targets

    def _head_logits(self, h: Tensor) -> list[Tensor]:
        logits = self.head(h)
        return [logits[:, a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def _targets(self, y: Any) -> np.ndarray:
        y = np.asarray(y).reshape(len(y), -1)
        if y.shape[1] != len(self.offsets) - 1:
            raise ValueError(f"FeatureNetwork: {len(self.offsets) - 1} heads, but labels of "
                             f"shape {y.shape}")  # fmt: skip
        return y

    def _features(self, x: Any) -> Tensor:
        h = self.body(self.as_input(x) * self.scale)
        return ad.relu(self.project(ad.reshape(h, (h.shape[0], -1))))

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The heads' cross-entropies summed, -1/n sum_i sum_h [y_ih >= 0] log p_h(y_ih | x_i),
        a label of -1 meaning the head has nothing to say about the example (a second
        object's colour in a scene of one)."""
        y = self._targets(y)
        total = 0.0
        for h, logits in enumerate(self._head_logits(self._features(x))):
            known = y[:, h] >= 0
            log_p = D.Categorical(logits=logits).log_prob(np.where(known, y[:, h], 0))
            total = total - ad.sum(log_p * known.astype(self.dtype))
        return total / len(y)

    def _penultimate(self, x: Any, batch: int = 500) -> np.ndarray:
        with ad.no_grad():
            return np.concatenate([self._features(x[i : i + batch]).data
                                   for i in range(0, len(x), batch)])  # fmt: skip

    def features(self, x: Any) -> np.ndarray:
        """The penultimate layer, (n, F), over its root mean square on the training images."""
        return self._penultimate(x) / self.feature_rms[0]

    def calibrate(self, x: Any) -> None:
        """Set the scale ``features`` divides by: the root mean square of x's features."""
        self.feature_rms[0] = np.sqrt(np.mean(self._penultimate(x) ** 2))

    def classify(self, x: Any) -> np.ndarray:
        """Each head's most probable class: (n,) for one head, (n, heads) for several."""
        with ad.no_grad():
            logits = self._head_logits(ad.Tensor(self._penultimate(x).astype(self.dtype)))
        labels = np.stack([np.argmax(head.data, axis=1) for head in logits], axis=1)
        return labels[:, 0] if labels.shape[1] == 1 else labels

    predict = classify

    def accuracy(self, x: Any, y: Any) -> tuple[float, dict[str, float]]:
        """The fraction of examples with every known label right, and each head's accuracy
        over the examples it has a label for."""
        y = self._targets(y)
        right = self._targets(self.predict(x)) == y
        known = y >= 0
        per_head = {head: float(np.mean(right[known[:, h], h]))
                    for h, head in enumerate(self.heads)}  # fmt: skip
        return float(np.mean(np.all(right | ~known, axis=1))), per_head


def features_dir() -> Path:
    from scratchgen.data import data_dir

    return Path(os.environ.get("SCRATCHGEN_FEATURES", data_dir() / "features"))


def _cache_path(dataset_name: str, recipe: Recipe) -> Path:
    text = json.dumps({"dataset": dataset_name, "version": RECIPE_VERSION, **asdict(recipe)},
                      sort_keys=True)  # fmt: skip
    return features_dir() / f"{dataset_name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def feature_network(dataset_name: str, recipe: Recipe | None = None,
                    progress: bool = True) -> FeatureNetwork:  # fmt: skip
    """The feature network for a dataset (``RECIPES``), loaded from the cache or trained once
    (with a progress bar) and cached."""
    from scratchgen import train
    from scratchgen.train.checkpoint import load_arrays, load_json, save_arrays, save_json

    if recipe is None:
        if dataset_name not in RECIPES:
            raise KeyError(f"no feature network for {dataset_name!r}: there are "
                           f"{', '.join(RECIPES)}")  # fmt: skip
        recipe = RECIPES[dataset_name]
    heads, classes, dataset = _targets(_labelled(dataset_name, recipe.seed))
    network = FeatureNetwork(dataset.info, classes=classes, filters=recipe.filters,
                             features=recipe.features, seed=recipe.seed)  # fmt: skip
    network.name, network.heads = f"scratchgen_{dataset_name}", heads
    path = _cache_path(dataset_name, recipe)
    if path.with_suffix(".json").exists():  # written last: the weights are complete
        network.load_state_dict(load_arrays(path.with_suffix(".npz")))
        record = load_json(path.with_suffix(".json"))
    else:
        train.fit(network, dataset, progress=progress, steps=recipe.steps,
                  batch_size=recipe.batch_size, lr=recipe.lr, seed=recipe.seed,
                  eval_every=10**9)  # fmt: skip
        network.eval()
        network.calibrate(dataset.train[:5000])
        accuracy, per_head = network.accuracy(dataset.test, dataset.test_labels)
        record = {"dataset": dataset_name, "recipe": asdict(recipe),
                  "test_accuracy": accuracy, "head_accuracy": per_head}  # fmt: skip
        save_arrays(path.with_suffix(".npz"), network.state_dict())
        save_json(path.with_suffix(".json"), record)
    network.test_accuracy, network.head_accuracy = record["test_accuracy"], record["head_accuracy"]
    return network.eval()


def _labelled(dataset_name: str, seed: int) -> Dataset:
    """The labelled images a network learns from. The fixed binarized MNIST has no labels, so
    its network learns from MNIST's, each image binarized once by x ~ Bernoulli(pixel / 255)
    as Larochelle & Murray's fixed binarization was drawn; it then scores binarized MNIST."""
    from scratchgen import data

    if dataset_name != "binarized_mnist":
        return data.load(dataset_name)
    mnist, rng = data.load("mnist"), np.random.default_rng(seed)

    def binarize(x: np.ndarray) -> np.ndarray:
        return (rng.random(x.shape) < x / 255.0).astype(np.int64)

    info = DataInfo(mnist.info.shape, "binary")
    return replace(mnist, name="binarized_mnist", train=binarize(mnist.train),
                   test=binarize(mnist.test), info=info)  # fmt: skip


def _targets(dataset: Dataset) -> tuple[tuple[str, ...], tuple[int, ...], Dataset]:
    """The heads' names, their numbers of classes, and the dataset labelled with them."""
    if dataset.name == "shapes":
        from scratchgen.data import shapes

        labelled = replace(
            dataset,
            train_labels=shapes.scene_attributes(dataset.extras["train_scenes"]),
            test_labels=shapes.scene_attributes(dataset.extras["test_scenes"]),
        )
        return shapes.ATTRIBUTES, shapes.ATTRIBUTE_CLASSES, labelled
    if dataset.train_labels is None:
        raise ValueError(f"{dataset.name} has no labels to train a feature network on")
    classes = int(max(dataset.train_labels.max(), dataset.test_labels.max())) + 1
    return ("label",), (classes,), dataset
