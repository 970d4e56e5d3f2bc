"""The sample-based columns of the results tables: FID, KID, precision and recall with the
project's feature network for the data, for any model that samples, and for the training
images themselves (the floor a perfect sampler would reach with the same number of examples:
FID is biased upwards at small n, and the digits' test set has 359 images). "NN ratio" is the
mean distance from a sample to its nearest training image over the same for a test image:
near 1 for a model that generalises, below it for one that replays its training set."""

from __future__ import annotations

import numpy as np

from scratchgen import evaluation
from scratchgen.data import Dataset
from scratchgen.metrics import feature_network, fid, kid, nearest_neighbours, precision_recall

COLUMNS = ("FID", "KID x 1e3", "precision", "recall", "NN ratio")


def _memorisation(dataset: Dataset, samples: np.ndarray) -> float:
    to_train = nearest_neighbours(samples, dataset.train)[0].mean()
    return float(to_train / nearest_neighbours(dataset.test, dataset.train)[0].mean())


def _scores(real_features: np.ndarray, fake_features: np.ndarray, seed: int) -> dict:
    mean, std = kid(real_features, fake_features, subset_size=len(real_features),
                    rng=np.random.default_rng(seed))  # fmt: skip
    pr = precision_recall(real_features, fake_features)
    return {"FID": fid(real_features, fake_features), "KID x 1e3": 1e3 * mean,
            "KID std x 1e3": 1e3 * std, **pr}  # fmt: skip


def of_model(model, dataset: Dataset, seed: int = 0) -> dict:
    """The scores of as many samples as the test set has images."""
    network = feature_network(dataset.name, progress=False)
    fake = evaluation.draw_samples(model, len(dataset.test), np.random.default_rng(seed))
    scores = _scores(network.features(dataset.test), network.features(fake), seed)
    return {**scores, "NN ratio": _memorisation(dataset, fake)}


def of_training_images(dataset: Dataset, seed: int = 0) -> dict:
    network = feature_network(dataset.name, progress=False)
    pick = np.random.default_rng(seed).choice(len(dataset.train), len(dataset.test), replace=False)
    scores = _scores(network.features(dataset.test), network.features(dataset.train[pick]), seed)
    return {**scores, "NN ratio": 0.0}  # they are training images


def header() -> str:
    return " ".join(f"{c:>10s}" for c in COLUMNS)


def cells(scores: dict) -> str:
    return " ".join(f"{scores[c]:10.3f}" for c in COLUMNS)
