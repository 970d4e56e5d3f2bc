"""``Trainer``: the one training loop every model shares.

Each step: a batch -> ``model.loss(batch)`` -> backward -> clip -> optimizer step -> schedule
-> EMA. A model with ``players`` (an adversarial one: an ordered mapping of name to Module,
``player_loss(name, x, y=None)`` and ``updates``, the updates each player makes per step)
gets one optimizer per player instead, with the settings its ``player_optimizers()`` gives
(the paper's) unless ``lr_d``, ``betas_d``, ``lr_g``, ``betas_g`` say otherwise for the
discriminator and the generator; a step then runs the players in order, each update on a
batch of its own, through the same guards. Around it: a progress bar, a metrics log
(``metrics.jsonl``, one JSON object per logged step), periodic evaluation on the test split,
checkpoints written atomically, and a guard that stops on a non-finite loss with the last good
checkpoint kept.

A resumed run continues bit for bit: the checkpoint holds the model, the optimizer, the
schedule, the EMA, the step and the state of every random generator the model holds, and the
data order needs no state, because epoch e is always shuffled by ``default_rng([seed, 0, e])``.
(Streams are tagged: 0 for data order, 1 for the model's generators, 2 for initialisation.)

Nothing is lost to an interruption:

- Ctrl-C (SIGINT), or SIGTERM, lets the current step finish, writes a checkpoint at that step
  and raises ``TrainingInterrupted`` (a KeyboardInterrupt); a second signal stops at once.
- The checkpoint is one file, ``checkpoint.npz``, holding the trainer's state too, renamed into
  place whole: a kill at any moment leaves the previous checkpoint readable and consistent
  (``trainer.json`` is a readable copy of that state, not what a resume reads).
- On resume, ``metrics.jsonl`` keeps the records up to the checkpoint's step and drops any
  torn last line, so the steps that are trained again are logged once.
- A file that cannot be written (disk full, no permission) stops training with
  ``TrainingStopped``, and the previous checkpoint stays as it was.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np

import autodiff as ad
from scratchgen import optim
from scratchgen.data import Dataset
from scratchgen.models import GenerativeModel
from scratchgen.settings import (
    Decay,
    Every,
    NonNegative,
    Positive,
    Range,
    Seed,
    Setting,
    SettingError,
    Steps,
    check_all,
    declared_by_dataclass,
)
from scratchgen.train.checkpoint import (
    CheckpointError,
    WriteError,
    load_arrays,
    load_json,
    save_arrays,
    save_json,
    save_text,
)


class TrainingStopped(RuntimeError):
    """Training could not go on (a file could not be written, or the loss diverged); the last
    good checkpoint is kept."""


class TrainingDiverged(TrainingStopped):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: training stopped after a whole step, with a checkpoint at that step if
    the run has a folder. ``step`` is the step reached, ``signum`` the signal."""

    def __init__(self, step: int, saved: bool, signum: int = signal.SIGINT) -> None:
        super().__init__(step)
        self.step, self.saved, self.signum = step, saved, signum


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class TrainConfig:
    """The settings of a training run, each checked against its type when the config is made
    (``scratchgen.settings``)."""

    steps: Every = 1000  # the step to train up to (a resumed run continues to it)
    batch_size: Annotated[int, Range(1, 10**6)] = 128
    lr: Positive = 1e-2
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: NonNegative = 0.0
    clip: Positive | None = None  # max gradient norm
    schedule: Literal["constant", "cosine"] = "constant"
    warmup: Steps = 0
    # decay of an average of the weights, used for sampling and the final metrics, warmed up
    # (optim.EMA); None takes the model's own ``ema_decay`` (diffusion models': the papers')
    ema: Decay | None = None
    eval_every: Every = 500
    log_every: Every = 50
    checkpoint_every: Every = 500
    eval_batch: Annotated[int, Range(1, 10**6)] = 1000
    seed: Seed = 0
    # adversarial models: the discriminator's and the generator's optimizer settings, each
    # the model's own default (its paper's) when None
    lr_d: Positive | None = None
    lr_g: Positive | None = None
    betas_d: Sequence[Decay] | None = None
    betas_g: Sequence[Decay] | None = None

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in check_all(TRAIN_SETTINGS, values, "training").items():
            setattr(self, name, value)
        for name in ("betas_d", "betas_g"):
            if getattr(self, name) is not None and len(getattr(self, name)) != 2:
                raise SettingError(f"training setting {name} must be a pair of numbers in "
                                   f"[0, 1), got {getattr(self, name)}")  # fmt: skip

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Settings by name (as the CLI's --set gives them), each checked against its type."""
        return cls(**check_all(TRAIN_SETTINGS, values, "training"))


TRAIN_SETTINGS: dict[str, Setting] = declared_by_dataclass(TrainConfig)


# the players whose optimizer TrainConfig's lr_d, betas_d (lr_g, betas_g) set
PLAYER_SETTINGS = {"discriminator": "d", "generator": "g"}


def _player_optimizer(config: TrainConfig, defaults: dict[str, Any], name: str,
                      params: list) -> optim.Optimizer:  # fmt: skip
    """A player's optimizer: its model's defaults (``kind`` adam or rmsprop, ``lr``, Adam's
    ``betas``), overridden by the config's lr_x and betas_x for that player."""
    suffix = PLAYER_SETTINGS.get(name)
    lr = getattr(config, f"lr_{suffix}", None) if suffix else None
    betas = getattr(config, f"betas_{suffix}", None) if suffix else None
    lr = defaults["lr"] if lr is None else lr
    if defaults["kind"] == "rmsprop":
        if betas is not None:
            raise SettingError(f"training setting betas_{suffix}: the {name} trains with "
                               "RMSprop, which has no betas")  # fmt: skip
        return optim.RMSprop(params, lr)
    return optim.Adam(params, lr, betas=tuple(betas or defaults["betas"]))


def _refuse_single_optimizer_settings(config: TrainConfig) -> None:
    """The settings of the one optimizer of a single-loss model would be silently ignored by
    a model with players: refuse them, naming what to set instead."""
    for name in ("lr", "optimizer", "weight_decay"):
        if getattr(config, name) != TRAIN_SETTINGS[name].default:
            raise SettingError(f"training setting {name}: a model with players (discriminator, "
                               "generator) takes lr_d, lr_g, betas_d and betas_g instead, each "
                               "player's optimizer being its objective's")  # fmt: skip


def _optimizer(config: TrainConfig, params: list) -> optim.Optimizer:
    if config.optimizer == "adam":
        return optim.Adam(params, config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return optim.AdamW(params, config.lr, weight_decay=config.weight_decay)
    return optim.SGD(params, config.lr, momentum=0.9, weight_decay=config.weight_decay)


def _schedule(config: TrainConfig, optimizer: optim.Optimizer) -> optim.Schedule | None:
    if config.schedule == "cosine":
        return optim.WarmupCosine(optimizer, config.steps, min(config.warmup, config.steps - 1))
    return optim.LinearWarmup(optimizer, config.warmup) if config.warmup else None


def _generators(model: GenerativeModel) -> dict[str, np.random.Generator]:
    """Every random generator held by the model or its layers, by dotted path."""
    found = {}
    for prefix, module in model.named_modules():
        for name, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"{prefix}.{name}" if prefix else name] = value
    return found


def evaluate(model: GenerativeModel, x: np.ndarray, batch: int = 1000,
             y: np.ndarray | None = None, likelihood: bool = True) -> dict[str, float]:  # fmt: skip
    """Mean loss on x; for exact likelihood models also the NLL in nats per example and in
    bits per dimension, NLL / (D log 2). With labels y (conditional models) the NLL is that of
    log p(x | y), and the accuracy of Bayes' rule, argmax_y log p(x | y), is reported too.
    Latent-variable models report their ELBO and an NLL estimated by the importance-weighted
    bound with the model's ``eval_samples`` draws (``iwae_samples`` in the result); VAEs also
    split the ELBO into ``test_reconstruction`` (-E_q log p(x | z)) and ``test_kl``.
    Adversarial models report each player's loss on x, ``test_loss_<player>`` (with gradients
    on: a gradient penalty differentiates the critic). The model is evaluated in eval mode
    (no dropout, no training-only noise, no state updated) and left in the mode it was in.
    ``likelihood=False`` leaves out the NLL and the accuracy (the trainer's choice for models
    whose ``likelihood_in_training`` is False: a diffusion model's bound costs T passes)."""
    with _eval_mode(model):
        return _evaluate_in_eval_mode(model, x, batch, y, likelihood)


@contextlib.contextmanager
def _eval_mode(model: GenerativeModel) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _evaluate_in_eval_mode(model: GenerativeModel, x: np.ndarray, batch: int,
                           y: np.ndarray | None, likelihood: bool) -> dict[str, float]:  # fmt: skip
    def chunks():
        for i in range(0, len(x), batch):
            yield (x[i : i + batch],) if y is None else (x[i : i + batch], y[i : i + batch])

    players = getattr(model, "players", None)
    if players:
        return {f"test_loss_{name}": float(np.mean([model.player_loss(name, *c).item()
                                                    for c in chunks()]))
                for name in players}  # fmt: skip

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
        if (model.has_exact_likelihood or bounded) and likelihood:
            nll = -mean_of(model.log_prob)
            metrics.update(test_nll=nll, test_bpd=nll / (model.info.dims * math.log(2)))
            if hasattr(model, "iwae_bound"):  # then test_nll is an importance-sampled estimate
                metrics["iwae_samples"] = int(model.hparams.get("eval_samples", 100))
    if y is not None and likelihood and model.conditional:  # Bayes: one likelihood per class
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
        self.players = getattr(model, "players", None) or {}
        if self.players:
            _refuse_single_optimizer_settings(config)
            defaults = model.player_optimizers()
            self.optimizers = {name: _player_optimizer(config, defaults[name], name,
                                                       list(player.parameters()))
                               for name, player in self.players.items()}  # fmt: skip
            self.updates = {name: int(model.updates[name]) for name in self.players}
        else:
            self.optimizers = {"model": _optimizer(config, list(model.parameters()))}
            self.updates = {"model": 1}
        self.schedules = {name: _schedule(config, opt) for name, opt in self.optimizers.items()}
        decay = config.ema or model.ema_decay
        self.ema = optim.EMA(model, decay, warmup=True) if decay else None
        self.step = 0
        self.seconds = 0.0
        self.history: list[dict[str, float]] = []
        self._saved_step: int | None = None  # the step of the checkpoint in out, if any
        self._interrupted: int | None = None  # the signal that asked training to stop
        self._clock = time.perf_counter()
        self._condition = model.condition_data(self.data, "train")
        self._order: tuple[int, np.ndarray] | None = None  # (epoch, its permutation)
        for i, generator in enumerate(_generators(model).values()):
            generator.bit_generator.state = np.random.default_rng(
                [config.seed, 1, i]
            ).bit_generator.state

    # ------------------------------------------------------------------ data order
    def _batch(self, number: int) -> tuple[np.ndarray, ...]:
        """(x,) or, for a class-conditional model, (x, y): batch ``number`` of the run, in its
        epoch's order (step k's for one loss; step k's j-th for players, k sum(updates) + j).
        The order is drawn once per epoch (a permutation of the whole set is O(N))."""
        per_epoch = len(self.data.train) // self.config.batch_size
        epoch, position = divmod(number, per_epoch)
        if self._order is None or self._order[0] != epoch:
            rng = np.random.default_rng([self.config.seed, 0, epoch])
            self._order = (epoch, rng.permutation(len(self.data.train)))
        start = position * self.config.batch_size
        index = self._order[1][start : start + self.config.batch_size]
        x = self.data.train[index]
        return (x,) if self._condition is None else (x, self._condition[index])

    # ------------------------------------------------------------------ the loop
    def fit(self) -> dict[str, float]:
        """Train up to ``config.steps``; returns the final evaluation."""
        from tqdm import tqdm

        if self.step == 0:
            self.model.initialize(self.data.train, np.random.default_rng([self.config.seed, 2]))
            if self.out:  # a run started afresh in a folder: no records of an earlier attempt
                self.history = _keep_log_until(self.out / "metrics.jsonl", 0)
        bar = tqdm(total=self.config.steps, initial=self.step, disable=not self.progress,
                   desc=type(self.model).__name__, dynamic_ncols=True)  # fmt: skip
        self._clock = time.perf_counter()
        try:
            with self._ctrl_c_at_step_end():
                while self.step < self.config.steps:
                    losses = self._one_step()
                    bar.update(1)
                    self._after_step(losses, bar)
                    if self._interrupted is not None:
                        if self.out:
                            self._checkpoint()
                        raise TrainingInterrupted(self.step, self.out is not None,
                                                  self._interrupted)  # fmt: skip
                    if self.out and self.step % self.config.checkpoint_every == 0:
                        self._checkpoint()
        finally:
            bar.close()
            self._tick()
        if self.out:
            self._save_or_stop()
        return self.final_metrics()

    def _tick(self) -> None:
        """Add the time since the last tick to ``seconds`` (which checkpoints carry)."""
        now = time.perf_counter()
        self.seconds += now - self._clock
        self._clock = now

    def _checkpoint(self) -> None:
        self._tick()
        self._save_or_stop()

    def _after_step(self, losses: dict[str, float], bar: Any) -> None:
        """One metrics record for the step: the loss (each player's) and the model's
        diagnostics on logging steps, the test metrics on evaluation steps."""
        config, record = self.config, {}
        if self.step % config.log_every == 0 or self.step == config.steps:
            bar.set_postfix({name: f"{value:.4f}" for name, value in losses.items()})
            record.update(losses)
            record.update({_named("lr", name): opt.lr for name, opt in self.optimizers.items()})
        if self.step % config.eval_every == 0:
            record.update(self._evaluate())
        if record:
            self._log({"step": self.step, **record})

    @contextlib.contextmanager
    def _ctrl_c_at_step_end(self) -> Iterator[None]:
        """While training, the first SIGINT (Ctrl-C) or SIGTERM (``kill``, a job scheduler) asks
        the loop to stop after the current step (the parameters are never left half-updated);
        a second one acts at once. Only the main thread can take signals, so elsewhere they
        keep their usual meaning."""
        self._interrupted = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum: int, frame: Any) -> None:
            self._interrupted = signum
            for stop, handler in previous.items():  # the next signal acts at once
                signal.signal(stop, handler)

        previous = {stop: signal.signal(stop, request_stop) for stop in STOP_SIGNALS}
        try:
            yield
        finally:
            for stop, handler in previous.items():
                signal.signal(stop, handler)

    def _diverged(self, what: str, player: str = "model") -> TrainingDiverged:
        saved = self._saved_step
        kept = (f"the last good checkpoint (step {saved}) is kept" if saved is not None
                else "no checkpoint had been written yet")  # fmt: skip
        whose = f"{player}: " if self.players else ""
        lr = f"{_named('lr', player)}={self.optimizers[player].lr:g}"
        return TrainingDiverged(
            f"{whose}{what} at step {self.step + 1}; {kept}. Try a smaller learning rate "
            f"({lr}) or gradient clipping (clip=1.0)"
        )

    def _one_step(self) -> dict[str, float]:
        """One training step: each player's updates in order (one update of the whole model
        for a single loss); returns the last loss of each, by its record name, and the model's
        diagnostics of the step."""
        self.model.train()
        number, losses = self.step * sum(self.updates.values()), {}
        for name, updates in self.updates.items():
            for _ in range(updates):
                losses[_named("loss", name)] = self._update(name, self._batch(number))
                number += 1
        for schedule in self.schedules.values():  # per step, however many updates it made
            if schedule:
                schedule.step()
        if self.ema:
            self.ema.update(self.model)
        diagnostics = self.model.diagnostics()
        self._check_diagnostics(diagnostics)
        self.step += 1
        return {**losses, **diagnostics}

    def _check_diagnostics(self, diagnostics: dict[str, float]) -> None:
        """Stop when one of the model's diagnostics is no longer finite or passes its limit
        (``model.diagnostic_limits``), naming it."""
        limits = self.model.diagnostic_limits
        for key, value in diagnostics.items():
            if not math.isfinite(value) or abs(value) > limits.get(key, math.inf):
                bound = f" (its limit is {limits[key]:g})" if key in limits else ""
                raise self._diverged(f"the {key.replace('_', ' ')} reached {value:g}{bound}")

    def _update(self, name: str, batch: tuple[np.ndarray, ...]) -> float:
        """One update of player ``name`` (or of the model) on ``batch``: the loss, backward,
        clip, the optimizer's step; the guards against divergence."""
        model, optimizer = self.model, self.optimizers[name]
        try:
            loss = model.player_loss(name, *batch) if self.players else model.loss(*batch)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as error:
            if self.step == 0:  # nothing has been trained yet: a setup mistake, not divergence
                raise
            raise self._diverged(f"the loss could not be computed ({error})", name) from None
        value = loss.item()
        if not math.isfinite(value):
            raise self._diverged(f"the loss became {value}", name)
        # the gradient of this optimizer's parameters only: a player's loss reaches the other
        # player's parameters too (D's, through D(G(z))), whose gradients are never used
        grads = ad.grad(loss, optimizer.params, allow_unused=True)
        for p, g in zip(optimizer.params, grads):
            p.grad = g
        if self.config.clip:
            optim.clip_grad_norm_(optimizer.params, self.config.clip)
        optimizer.step()
        model.after_update(name)
        if not all(np.isfinite(p.data).all() for p in optimizer.params):
            raise self._diverged("a parameter became NaN or infinite", name)
        return value

    def _log(self, record: dict[str, float]) -> None:
        self.history.append(record)
        if self.out:
            try:
                self.out.mkdir(parents=True, exist_ok=True)
                with open(self.out / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
            except OSError as error:
                what = f"could not write {self.out / 'metrics.jsonl'}: {error.strerror or error}"
                raise self._write_failed(what) from None

    def final_metrics(self) -> dict[str, float]:
        self.model.eval()
        if self.ema:
            with self.ema.applied(self.model):
                metrics = self._evaluate()
        else:
            metrics = self._evaluate()
        return {**metrics, "steps": self.step, "seconds": round(self.seconds, 3)}

    def _evaluate(self) -> dict[str, float]:
        labels = self.model.condition_data(self.data, "test")
        return evaluate(self.model, self.data.test, self.config.eval_batch, labels,
                        likelihood=self.model.likelihood_in_training)  # fmt: skip

    # ------------------------------------------------------------------ checkpoints
    def _write_failed(self, what: str) -> TrainingStopped:
        saved = self._saved_step
        kept = (f"the checkpoint at step {saved} is intact" if saved is not None
                else "no checkpoint had been written yet")  # fmt: skip
        return TrainingStopped(f"{what} (at step {self.step}); {kept}")

    def _save_or_stop(self) -> None:
        try:
            self.save()
        except WriteError as error:
            raise self._write_failed(str(error)) from None

    def _state(self) -> dict[str, Any]:
        """Everything but the arrays: step, time, config, schedule, the generators' states."""
        return {
            "step": self.step, "seconds": self.seconds, "config": asdict(self.config),
            "schedule": {name: s.state_dict() for name, s in self.schedules.items() if s},
            "generators": {k: g.bit_generator.state for k, g in _generators(self.model).items()},
        }  # fmt: skip

    def save(self) -> None:
        """checkpoint.npz: the model, optimizer and EMA arrays, and the trainer's state as JSON
        text (``trainer/state``), in one file renamed into place whole; then trainer.json, a
        readable copy of that state."""
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        for name, optimizer in self.optimizers.items():
            prefix = _optimizer_prefix(name)
            arrays.update({f"{prefix}{k}": v for k, v in optimizer.state_dict().items()})
        if self.ema:
            arrays.update({f"ema/{k}": v for k, v in self.ema.state_dict().items()})
        state = self._state()
        arrays[STATE_KEY] = np.array(json.dumps(state))
        save_arrays(self.out / "checkpoint.npz", arrays)
        self._saved_step = self.step
        save_json(self.out / "trainer.json", state)

    def load(self, folder: Path) -> None:
        """Continue from a checkpoint written by ``save``."""
        arrays = load_arrays(Path(folder) / "checkpoint.npz")
        if STATE_KEY in arrays:
            state = json.loads(str(arrays.pop(STATE_KEY)))
        else:  # written before the state moved into the checkpoint
            state = load_json(Path(folder) / "trainer.json")

        def part(prefix: str) -> dict[str, np.ndarray]:
            return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}

        try:
            self.model.load_state_dict(part("model/"))
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(part(_optimizer_prefix(name)))
            if self.ema:
                self.ema.load_state_dict(part("ema/"))
        except (KeyError, ValueError) as error:
            raise CheckpointError(f"{folder / 'checkpoint.npz'} does not fit this model and "
                                  f"its settings: {error.args[0]}") from None  # fmt: skip
        schedules = state["schedule"] or {}
        if "model" not in schedules and "step_count" in schedules:  # written before players
            schedules = {"model": schedules}
        for name, schedule in self.schedules.items():
            if schedule and name in schedules:
                schedule.load_state_dict(schedules[name])
        for name, generator in _generators(self.model).items():
            generator.bit_generator.state = state["generators"][name]
        self.step, self.seconds = int(state["step"]), float(state["seconds"])
        self._saved_step = self.step
        self.history = _keep_log_until(Path(folder) / "metrics.jsonl", self.step)


STATE_KEY = "trainer/state"


def _optimizer_prefix(player: str) -> str:
    """Where a checkpoint keeps an optimizer's arrays: ``optim/`` for the model's (as before
    players), ``optim/discriminator/`` for a player's."""
    return "optim/" if player == "model" else f"optim/{player}/"


def _named(what: str, player: str) -> str:
    """A record's name: ``loss`` for the model's, ``loss_discriminator`` for a player's."""
    return what if player == "model" else f"{what}_{player}"


def _keep_log_until(path: Path, step: int) -> list[dict[str, Any]]:
    """Rewrite the metrics log with its records up to ``step`` (those after it are trained
    again), dropping a line torn by a kill mid-write; returns the records kept."""
    if not path.exists():
        return []
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("step", math.inf) <= step:
            kept.append(record)
    save_text(path, "".join(json.dumps(record) + "\n" for record in kept))
    return kept
