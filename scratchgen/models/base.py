"""``GenerativeModel``: the contract every model keeps, and the registry the CLI reads.

Every model has ``loss(x)`` (the scalar training objective, mean over the batch, a Tensor) and
``sample(n, rng)`` (an ndarray of shape (n, *info.shape)). Likelihood models also have
``log_prob(x)``: exact, per example, in nats. A model that needs randomness inside ``loss``
keeps it in ``self.rng``, which the trainer seeds and checkpoints.

A class-conditional model (``num_classes`` > 0, so ``conditional`` is True) takes the labels
too: ``loss(x, y)``, ``log_prob(x, y)`` = log p(x | y), ``sample(n, rng, y=...)``; the trainer
passes it what ``condition_data`` names, a dataset's labels by default (a text-conditioned
model's are captions). ``classify(x)`` then applies Bayes' rule with a uniform
prior over the classes: argmax_y log p(x | y).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

import autodiff as ad
from autodiff import Tensor
from scratchgen.data import DataInfo
from scratchgen.nn import Module
from scratchgen.settings import Seed, Setting, check_all, declared_by_signature, setting

# the settings every model has, besides those its constructor declares
COMMON_SETTINGS = {
    "seed": setting("seed", 0, Seed),
    "dtype": setting("dtype", "float32", Literal["float32", "float64"]),
}


class GenerativeModel(Module):
    """Base class: ``info`` describes the data; ``hparams`` are the constructor's settings.

    A model declares its settings once, as typed keyword parameters of its constructor
    (``latent: Size = 16``, see ``scratchgen.settings``), and passes them all on to this
    constructor, which checks every one against its type before anything is built and keeps
    them, with the defaults of those not given, in ``hparams``.
    """

    has_exact_likelihood = False
    # whether the trainer's test evaluations include log_prob (``scratchgen eval`` always
    # does): False for models whose likelihood costs many network passes (diffusion's)
    likelihood_in_training = True
    # the decay of the weights' average the trainer keeps when its config names none
    ema_decay: float | None = None
    registered_name: str | None = None  # set by @register
    # the largest magnitude each diagnostic may reach before the trainer stops the run
    diagnostic_limits: dict[str, float] = {}
    # models whose settings this one takes too, to build one of them as a part (a latent
    # diffusion model's DDPM on codes): declared there once, checked here like its own
    settings_from: tuple[type[GenerativeModel], ...] = ()

    def __init__(self, info: DataInfo, **hparams: Any) -> None:
        super().__init__()
        declared = model_settings(type(self))
        name = self.registered_name or type(self).__name__
        given = check_all(declared, _dtype_named(hparams), name)
        defaults = {key: s.check(s.default, "default") for key, s in declared.items()}
        self.info, self.hparams = info, {**defaults, **given}
        self.dtype = np.dtype(self.hparams["dtype"])
        self.rng = np.random.default_rng(self.hparams["seed"])

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

    def _labels(self, y: Any, n: int) -> Any:
        """One label per example for a conditional model (a single label is repeated); labels
        outside [0, num_classes) are refused in one line, as are labels given to a model that
        is not conditional."""
        if not self.conditional:
            if y is not None:
                raise ValueError(f"{type(self).__name__}: this model is not class-conditional "
                                 "(num_classes=0); it takes no labels")  # fmt: skip
            return None
        if y is None:
            raise ValueError(f"{type(self).__name__}: this model is conditional; give the labels y")
        labels = np.broadcast_to(np.asarray(y, dtype=np.int64), (n,))
        k = int(self.hparams["num_classes"])
        if labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"{type(self).__name__}: labels must lie in [0, {k})")
        return labels

    def _one_hot(self, y: Any, n: int) -> np.ndarray | None:
        """The labels as one-hot rows (n, num_classes) in the model's dtype; None for a model
        that is not conditional."""
        labels = self._labels(y, n)
        if labels is None:
            return None
        return np.eye(int(self.hparams["num_classes"]), dtype=self.dtype)[labels]

    def condition_data(self, data: Any, split: str) -> np.ndarray | None:
        """What the trainer hands ``loss`` beside each batch of ``split`` ("train" or "test"),
        one row per example: a class-conditional model's labels, None for a model that takes
        no condition (a text-conditioned one returns captions)."""
        if not self.conditional:
            return None
        labels = data.train_labels if split == "train" else data.test_labels
        if labels is None:
            raise ValueError(f"a class-conditional model needs labels, and {data.name} has none")
        return labels

    def training_data(self, data: Any) -> Any:
        """The dataset the trainer draws batches from; a model that trains on part of what it
        is given (a semi-supervised one keeps a few labels) returns its own view. The test
        split is always evaluated as given."""
        return data

    def initialize(self, x_train: np.ndarray, rng: np.random.Generator) -> None:
        """A data-dependent start, called once before training from scratch (not on resume).
        The default keeps the constructor's initialisation."""

    def diagnostics(self) -> dict[str, float]:
        """Numbers that describe the last training step beside its loss (an energy model's
        energy gap, say), by name: the trainer logs them with the loss and stops the run when
        one is no longer finite or passes its ``diagnostic_limits``. None by default."""
        return {}

    def after_update(self, name: str) -> None:
        """Called by the trainer after each optimizer step of player ``name`` (``"model"`` for
        a single loss): a projection of the weights (WGAN's clipping), a target network's
        average (consistency models). Nothing by default."""

    def loss(self, x: Any, y: Any = None) -> Tensor:
        """The training objective; for likelihood models the mean negative log-likelihood."""
        return -ad.mean(self.log_prob(x) if y is None else self.log_prob(x, y))

    def log_prob(self, x: Any, y: Any = None) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no exact log-likelihood")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


def _dtype_named(hparams: dict[str, Any]) -> dict[str, Any]:
    """hparams with a dtype given as np.float64 (or the like) named "float64", as JSON keeps it."""
    dtype = hparams.get("dtype")
    if isinstance(dtype, (type, np.dtype)):  # np.dtype(None) would be float64: leave None out
        try:
            return {**hparams, "dtype": np.dtype(dtype).name}
        except TypeError:
            pass  # a type that is no dtype: the check names it
    return hparams


@functools.cache
def model_settings(cls: type[GenerativeModel]) -> dict[str, Setting]:
    """The settings of a model class: those its constructor declares, then those of each base
    class's constructor that it passes on through **hparams, then those of the models named by
    its ``settings_from``, and the common seed and dtype."""
    found: dict[str, Setting] = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if klass is GenerativeModel or init is None:
            continue
        for name, declared in declared_by_signature(init).items():
            found.setdefault(name, declared)  # the subclass's declaration wins
        kinds = [p.kind for p in inspect.signature(init).parameters.values()]
        if inspect.Parameter.VAR_KEYWORD not in kinds:
            break
    for part in cls.settings_from:
        for name, declared in model_settings(part).items():
            found.setdefault(name, declared)
    return {**found, **COMMON_SETTINGS}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    build: Callable[..., GenerativeModel]
    kinds: tuple[str, ...]
    description: str

    @property
    def settings(self) -> dict[str, Setting]:
        return model_settings(self.build)


REGISTRY: dict[str, ModelEntry] = {}


def register(name: str, kinds: tuple[str, ...], description: str):
    """Class decorator: make a model available by name for the data kinds it supports. Its
    settings are those its constructor declares."""

    def add(cls: type[GenerativeModel]) -> type[GenerativeModel]:
        cls.registered_name = name
        REGISTRY[name] = ModelEntry(name, cls, kinds, description)
        return cls

    return add


class UnsupportedData(ValueError):
    """A model asked to fit a kind of data it cannot model."""


def entry(name: str) -> ModelEntry:
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}: choose from {', '.join(REGISTRY) or 'none yet'}")
    return REGISTRY[name]


def check_settings(name: str, hparams: dict[str, Any]) -> dict[str, Any]:
    """Model ``name``'s settings checked against their declared types (one-line SettingError),
    before any data is loaded or anything built; returns them in plain form."""
    return check_all(entry(name).settings, _dtype_named(hparams), name)


def create(name: str, info: DataInfo, **hparams: Any) -> GenerativeModel:
    """Build model ``name`` for data described by ``info``; settings are checked first."""
    model_entry = entry(name)
    hparams = check_settings(name, hparams)
    if info.kind not in model_entry.kinds:
        raise UnsupportedData(
            f"model {name!r} handles {' or '.join(model_entry.kinds)} data, not {info.kind}"
        )
    return model_entry.build(info, **hparams)


def available() -> dict[str, str]:
    return {name: f"{e.description} [{', '.join(e.kinds)}]" for name, e in REGISTRY.items()}
