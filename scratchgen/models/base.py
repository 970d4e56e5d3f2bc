"""``GenerativeModel``: the contract every model keeps, and the registry the CLI reads.

Every model has ``loss(x)`` (the scalar training objective, mean over the batch, a Tensor) and
``sample(n, rng)`` (an ndarray of shape (n, *info.shape)). Likelihood models also have
``log_prob(x)``: exact, per example, in nats. A model that needs randomness inside ``loss``
keeps it in ``self.rng``, which the trainer seeds and checkpoints.

A class-conditional model (``num_classes`` > 0, so ``conditional`` is True) takes the labels
too: ``loss(x, y)``, ``log_prob(x, y)`` = log p(x | y), ``sample(n, rng, y=...)``; the trainer
passes a dataset's labels to it. ``classify(x)`` then applies Bayes' rule with a uniform
prior over the classes: argmax_y log p(x | y).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.nn import Module


class GenerativeModel(Module):
    """Base class: ``info`` describes the data; ``hparams`` are the constructor's settings."""

    has_exact_likelihood = False

    def __init__(self, info: DataInfo, **hparams: Any) -> None:
        super().__init__()
        self.info, self.hparams = info, hparams
        self.dtype = np.dtype(hparams.get("dtype", np.float32))
        self.rng = np.random.default_rng(hparams.get("seed", 0))

    def as_input(self, x: Any) -> Tensor:
        """A batch as a Tensor of the model's dtype, shape-checked against ``info``."""
        array = x.data if isinstance(x, Tensor) else np.asarray(x)
        if array.shape[1:] != self.info.shape:
            raise ValueError(
                f"{type(self).__name__}: expected examples of shape {self.info.shape}, got a "
                f"batch of shape {array.shape}"
            )
        return x if isinstance(x, Tensor) else ad.Tensor(array.astype(self.dtype))

    @property
    def conditional(self) -> bool:
        return bool(self.hparams.get("num_classes"))

    def classify(self, x: Any) -> np.ndarray:
        """argmax_y log p(x | y): Bayes' rule with a uniform class prior (one pass per class)."""
        if not self.conditional:
            raise ValueError(f"{type(self).__name__} is not class-conditional (num_classes=0)")
        n, k = len(np.asarray(x)), int(self.hparams["num_classes"])
        with ad.no_grad():
            scores = np.stack([self.log_prob(x, np.full(n, c)).data for c in range(k)], axis=1)
        return np.argmax(scores, axis=1)

    def training_data(self, data: Any) -> Any:
        """The dataset the trainer draws batches from; a model that trains on part of what it
        is given (a semi-supervised one keeps a few labels) returns its own view. The test
        split is always evaluated as given."""
        return data

    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """A data-dependent start, called once before training from scratch (not on resume).
        The default keeps the constructor's initialisation."""

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The training objective; for likelihood models the mean negative log-likelihood."""
        return -ad.mean(self.log_prob(x) if y is None else self.log_prob(x, y))

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no exact log-likelihood")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    build: Callable[..., GenerativeModel]
    kinds: tuple[str, ...]
    defaults: dict[str, Any]
    description: str


REGISTRY: dict[str, ModelEntry] = {}


def register(name: str, kinds: tuple[str, ...], description: str, **defaults: Any):
    """Class decorator: make a model available by name for the data kinds it supports."""

    def add(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        REGISTRY[name] = ModelEntry(name, cls, kinds, defaults, description)
        return cls

    return add


class UnsupportedData(ValueError):
    """A model asked to fit a kind of data it cannot model."""


def create(name: str, info: DataInfo, **hparams: Any) -> GenerativeModel:
    """Build model ``name`` for data described by ``info``; unknown settings are errors."""
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}: choose from {', '.join(REGISTRY) or 'none yet'}")
    entry = REGISTRY[name]
    if info.kind not in entry.kinds:
        raise UnsupportedData(
            f"model {name!r} handles {' or '.join(entry.kinds)} data, not {info.kind}"
        )
    unknown = sorted(set(hparams) - set(entry.defaults) - {"seed", "dtype"})
    if unknown:
        raise KeyError(f"model {name!r} has no setting {', '.join(unknown)}; its settings are "
                       f"{', '.join(sorted(entry.defaults))}")  # fmt: skip
    return entry.build(info, **{**entry.defaults, **hparams})


def available() -> dict[str, str]:
    return {name: f"{e.description} [{', '.join(e.kinds)}]" for name, e in REGISTRY.items()}
