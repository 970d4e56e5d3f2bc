"""``Trainer``: the one training loop every model shares.

Each step: a batch -> ``model.loss(batch)`` -> backward -> clip -> optimizer step -> schedule
-> EMA. Around it: a progress bar, a metrics log (``metrics.jsonl``, one JSON object per
logged step), periodic evaluation on the test split, checkpoints written atomically, and a
guard that stops on a non-finite loss with the last good checkpoint kept.

A resumed run continues bit for bit: the checkpoint holds the model, the optimizer, the
schedule, the EMA, the step and the state of every random generator the model holds, and the
data order needs no state, because epoch e is always shuffled by ``default_rng([seed, 0, e])``.
(Streams are tagged: 0 for data order, 1 for the model's generators, 2 for initialisation.)
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

import autodiff as ad
from scratchgen import optim
from scratchgen.data import Dataset
from scratchgen.models import GenerativeModel
from scratchgen.train.checkpoint import load_arrays, load_json, save_arrays, save_json


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 128
    lr: float = 1e-2
    optimizer: str = "adam"  # adam | adamw | sgd
    weight_decay: float = 0.0
    clip: float | None = None  # max gradient norm
    schedule: str = "constant"  # constant | cosine
    warmup: int = 0
    ema: float | None = None  # decay of an average of the weights, used for sampling
    eval_every: int = 500
    log_every: int = 50
    checkpoint_every: int = 500
    eval_batch: int = 1000
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Settings by name (as the CLI's --set gives them), each checked against its type."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise KeyError(f"no training setting {', '.join(unknown)}; they are {', '.join(known)}")
        for name, value in values.items():
            _check_setting(name, value, known[name].type)
        return cls(**values)


def _check_setting(name: str, value: Any, annotation: str) -> None:
    """One-line errors for settings of the wrong type (e.g. steps=abc)."""
    if value is None and "None" in annotation:
        return
    if annotation.startswith("int") and not (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        raise ValueError(f"training setting {name} must be an integer, got {value!r}")
    if annotation.startswith("float") and not isinstance(value, (int, float)):
        raise ValueError(f"training setting {name} must be a number, got {value!r}")
    if annotation == "str" and not isinstance(value, str):
        raise ValueError(f"training setting {name} must be a word, got {value!r}")


def _optimizer(config: TrainConfig, params: list) -> optim.Optimizer:
    if config.optimizer == "adam":
        return optim.Adam(params, config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return optim.AdamW(params, config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return optim.SGD(params, config.lr, momentum=0.9, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r}: adam, adamw or sgd")


def _schedule(config: TrainConfig, optimizer: optim.Optimizer) -> optim.Schedule | None:
    if config.schedule == "cosine":
        return optim.WarmupCosine(optimizer, config.steps, min(config.warmup, config.steps - 1))
    if config.schedule == "constant":
        return optim.LinearWarmup(optimizer, config.warmup) if config.warmup else None
    raise ValueError(f"unknown schedule {config.schedule!r}: constant or cosine")


def _generators(model: GenerativeModel) -> dict[str, np.random.Generator]:
    """Every random generator held by the model or its layers, by dotted path."""
    found = {}
    for prefix, module in model.named_modules():
        for name, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"{prefix}.{name}" if prefix else name] = value
    return found


def _labels_for(model: GenerativeModel, data: Dataset, split: str) -> np.ndarray | None:
    """The labels a class-conditional model trains on (None for other models)."""
    if not model.conditional:
        return None
    labels = data.train_labels if split == "train" else data.test_labels
    if labels is None:
        raise ValueError(f"a class-conditional model needs labels, and {data.name} has none")
    return labels


def evaluate(model: GenerativeModel, x: np.ndarray, batch: int = 1000,
             y: np.ndarray | None = None) -> dict[str, float]:  # fmt: skip
    """Mean loss on x; for exact likelihood models also the NLL in nats per example and in
    bits per dimension, NLL / (D log 2). With labels y (conditional models) the NLL is that of
    log p(x | y), and the accuracy of Bayes' rule, argmax_y log p(x | y), is reported too.
    Latent-variable models report their ELBO and an NLL estimated by the importance-weighted
    bound with the model's ``eval_samples`` draws (``iwae_samples`` in the result); VAEs also
    split the ELBO into ``test_reconstruction`` (-E_q log p(x | z)) and ``test_kl``."""

    def chunks():
        for i in range(0, len(x), batch):
            yield (x[i : i + batch],) if y is None else (x[i : i + batch], y[i : i + batch])

    def mean_of(method) -> float:
        return float(np.mean(np.concatenate([method(*chunk).data for chunk in chunks()])))

    with ad.no_grad():
        metrics = {}
        bounded = getattr(model, "has_bound", False)  # a log_prob estimated through a bound
        if not model.has_exact_likelihood or hasattr(model, "elbo"):
            metrics["test_loss"] = float(np.mean([model.loss(*c).item() for c in chunks()]))
        if hasattr(model, "elbo_terms"):  # ELBO = reconstruction term - KL term, one pass
            terms = [model.elbo_terms(*chunk) for chunk in chunks()]
            reconstruction = np.concatenate([r.data for r, _ in terms])
            kl = np.concatenate([k.data for _, k in terms])
            metrics.update(test_elbo=float(np.mean(reconstruction - kl)),
                           test_reconstruction=-float(np.mean(reconstruction)),
                           test_kl=float(np.mean(kl)))  # fmt: skip
        elif hasattr(model, "elbo"):
            metrics["test_elbo"] = mean_of(model.elbo)
        if model.has_exact_likelihood or bounded:
            nll = -mean_of(model.log_prob)
            metrics.update(test_nll=nll, test_bpd=nll / (model.info.dims * math.log(2)))
            if not model.has_exact_likelihood:  # then test_nll is an importance-sampled estimate
                metrics["iwae_samples"] = int(model.hparams.get("eval_samples", 100))
    if y is not None:
        metrics["test_accuracy"] = float(np.mean(model.classify(x) == y))
    return metrics


class Trainer:
    """Train ``model`` on ``data`` with ``config``, writing into ``out`` (if given)."""

    def __init__(self, model: GenerativeModel, data: Dataset, config: TrainConfig,
                 out: Path | None = None, progress: bool = True) -> None:  # fmt: skip
        if config.batch_size > len(data.train):
            raise ValueError(
                f"batch_size {config.batch_size} exceeds the {len(data.train)} training examples"
            )
        self.model, self.data, self.config = model, model.training_data(data), config
        self.out = Path(out) if out is not None else None
        self.progress = progress
        self.optimizer = _optimizer(config, list(model.parameters()))
        self.schedule = _schedule(config, self.optimizer)
        self.ema = optim.EMA(model, config.ema) if config.ema else None
        self.step = 0
        self.seconds = 0.0
        self.history: list[dict[str, float]] = []
        self._labels = _labels_for(model, self.data, "train")
        self._order: tuple[int, np.ndarray] | None = None  # (epoch, its permutation)
        for i, generator in enumerate(_generators(model).values()):
            generator.bit_generator.state = np.random.default_rng(
                [config.seed, 1, i]
            ).bit_generator.state

    # ------------------------------------------------------------------ data order
    def _batch(self, step: int) -> tuple[np.ndarray, ...]:
        """(x,) or, for a class-conditional model, (x, y): step's batch of its epoch's order.
        The order is drawn once per epoch (a permutation of the whole set is O(N))."""
        per_epoch = len(self.data.train) // self.config.batch_size
        epoch, position = divmod(step, per_epoch)
        if self._order is None or self._order[0] != epoch:
            rng = np.random.default_rng([self.config.seed, 0, epoch])
            self._order = (epoch, rng.permutation(len(self.data.train)))
        start = position * self.config.batch_size
        index = self._order[1][start : start + self.config.batch_size]
        x = self.data.train[index]
        return (x,) if self._labels is None else (x, self._labels[index])

    # ------------------------------------------------------------------ the loop
    def fit(self) -> dict[str, float]:
        """Train up to ``config.steps``; returns the final evaluation."""
        from tqdm import tqdm

        if self.step == 0:
            self.model.initialize(self.data.train, np.random.default_rng([self.config.seed, 2]))
        bar = tqdm(total=self.config.steps, initial=self.step, disable=not self.progress,
                   desc=type(self.model).__name__, dynamic_ncols=True)  # fmt: skip
        start = time.perf_counter()
        try:
            while self.step < self.config.steps:
                loss = self._one_step()
                bar.update(1)
                if self.step % self.config.log_every == 0 or self.step == self.config.steps:
                    bar.set_postfix(loss=f"{loss:.4f}")
                    self._log({"step": self.step, "loss": loss, "lr": self.optimizer.lr})
                if self.step % self.config.eval_every == 0:
                    self._log({"step": self.step, **self._evaluate()})
                if self.out and self.step % self.config.checkpoint_every == 0:
                    self.seconds += time.perf_counter() - start
                    start = time.perf_counter()
                    self.save()
        finally:
            bar.close()
            self.seconds += time.perf_counter() - start
        if self.out:
            self.save()
        return self.final_metrics()

    def _diverged(self, what: str) -> TrainingDiverged:
        return TrainingDiverged(
            f"{what} at step {self.step + 1}; the last good checkpoint (step {self._saved_step()}) "
            f"is kept. Try a smaller learning rate (lr={self.optimizer.lr:g}) or gradient "
            "clipping (clip=1.0)"
        )

    def _one_step(self) -> float:
        model, config = self.model, self.config
        model.train()
        try:
            loss = model.loss(*self._batch(self.step))
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as error:
            if self.step == 0:  # nothing has been trained yet: a setup mistake, not divergence
                raise
            raise self._diverged(f"the loss could not be computed ({error})") from None
        value = loss.item()
        if not math.isfinite(value):
            raise self._diverged(f"the loss became {value}")
        self.optimizer.zero_grad()
        loss.backward()
        if config.clip:
            optim.clip_grad_norm_(self.optimizer.params, config.clip)
        self.optimizer.step()
        if not all(np.isfinite(p.data).all() for p in self.optimizer.params):
            raise self._diverged("a parameter became NaN or infinite")
        if self.schedule:
            self.schedule.step()
        if self.ema:
            self.ema.update(model)
        self.step += 1
        return value

    def _log(self, record: dict[str, float]) -> None:
        self.history.append(record)
        if self.out:
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def final_metrics(self) -> dict[str, float]:
        self.model.eval()
        if self.ema:
            with self.ema.applied(self.model):
                metrics = self._evaluate()
        else:
            metrics = self._evaluate()
        return {**metrics, "steps": self.step, "seconds": round(self.seconds, 3)}

    def _evaluate(self) -> dict[str, float]:
        labels = _labels_for(self.model, self.data, "test")
        return evaluate(self.model, self.data.test, self.config.eval_batch, labels)

    # ------------------------------------------------------------------ checkpoints
    def _saved_step(self) -> int | str:
        if self.out and (self.out / "trainer.json").exists():
            return load_json(self.out / "trainer.json")["step"]
        return "none"

    def save(self) -> None:
        """checkpoint.npz (model, optimizer, EMA) and trainer.json (step, schedule, generators)."""
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        arrays.update({f"optim/{k}": v for k, v in self.optimizer.state_dict().items()})
        if self.ema:
            arrays.update({f"ema/{k}": v for k, v in self.ema.state_dict().items()})
        save_arrays(self.out / "checkpoint.npz", arrays)
        save_json(self.out / "trainer.json", {
            "step": self.step, "seconds": self.seconds, "config": asdict(self.config),
            "schedule": self.schedule.state_dict() if self.schedule else None,
            "generators": {k: g.bit_generator.state for k, g in _generators(self.model).items()},
        })  # fmt: skip

    def load(self, folder: Path) -> None:
        """Continue from a checkpoint written by ``save``."""
        arrays = load_arrays(Path(folder) / "checkpoint.npz")
        state = load_json(Path(folder) / "trainer.json")

        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}

        self.model.load_state_dict(part("model/"))
        self.optimizer.load_state_dict(part("optim/"))
        if self.ema:
            self.ema.load_state_dict(part("ema/"))
        if self.schedule and state["schedule"]:
            self.schedule.load_state_dict(state["schedule"])
        for name, generator in _generators(self.model).items():
            generator.bit_generator.state = state["generators"][name]
        self.step, self.seconds = int(state["step"]), float(state["seconds"])
