"""The ``scratchgen`` command line.

    scratchgen list
    scratchgen train MODEL --data DATASET [--steps N] [--seed S] [--out DIR] [--set k=v ...]
                     [--resume]
    scratchgen sample DIR [--n N] [--seed S] --out FILE.npy|FILE.png
    scratchgen eval DIR [--data DATASET|FILE]
    scratchgen tour [--out DIR] [--quick]

A run folder holds checkpoint.npz, trainer.json, config.json, metrics.json, metrics.jsonl,
samples.npy and samples.png (and samples.txt for text). User mistakes end in one line on
stderr and exit status 2, never a traceback; a run whose loss diverges stops with exit status 1
and its last good checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, NoReturn

import numpy as np


class UsageError(Exception):
    """A mistake in how the command was called: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scratchgen", description="Deep generative models from scratch.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("list", help="models and datasets")

    train = commands.add_parser("train", help="train a model on a dataset")
    train.add_argument("model")
    train.add_argument("--data", required=True, help="a dataset name or a .npy/.npz/text file")
    train.add_argument("--steps", type=int)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", type=Path, help="run folder (default runs/MODEL-DATA)")
    train.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                       help="model or training settings, e.g. lr=0.01 components=16")  # fmt: skip
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    sample = commands.add_parser("sample", help="draw samples from a trained model")
    sample.add_argument("run", type=Path)
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", type=Path, required=True, help="FILE.npy or FILE.png")

    evaluate = commands.add_parser("eval", help="evaluate a trained model on test data")
    evaluate.add_argument("run", type=Path)
    evaluate.add_argument("--data", help="default: the data it was trained on")

    tour = commands.add_parser("tour", help="the demo: train small models and write a gallery")
    tour.add_argument("--out", type=Path, default=Path("tour"), help="output folder")
    tour.add_argument("--seed", type=int, default=0)
    tour.add_argument("--quick", action="store_true", help="a few steps only (for tests)")
    return parser


# ---------------------------------------------------------------------- helpers
def _parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """key=value pairs; values are read as JSON when they parse (numbers, true, null)."""
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"scratchgen train: --set expects KEY=VALUE, got {pair!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def _split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    from scratchgen.train import TrainConfig

    train_keys = {f.name for f in fields(TrainConfig)}
    model = {k: v for k, v in settings.items() if k not in train_keys}
    return model, {k: v for k, v in settings.items() if k in train_keys}


def load_run(folder: Path):
    """(model with its trained weights, the run's config) from a run folder. The averaged
    (EMA) weights are used when the run kept them."""
    from scratchgen import data as data_module
    from scratchgen import models
    from scratchgen.train.checkpoint import load_arrays, load_json

    config = load_json(folder / "config.json")
    info = data_module.DataInfo(tuple(config["info"]["shape"]), config["info"]["kind"],
                                config["info"]["levels"])  # fmt: skip
    model = models.create(config["model"], info, **config["hparams"])
    arrays = load_arrays(folder / "checkpoint.npz")
    prefix = "ema/" if any(k.startswith("ema/") for k in arrays) else "model/"
    weights = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
    buffers = {k.removeprefix("model/"): v for k, v in arrays.items() if k.startswith("model/")}
    model.load_state_dict({**buffers, **weights})
    return model.eval(), config


def _write_samples(model, samples: np.ndarray, path: Path, reference: np.ndarray | None) -> None:
    """samples.npy, or a picture chosen by the kind of data."""
    from scratchgen import viz

    if path.suffix == ".npy":
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, samples)
        return
    if path.suffix != ".png":
        raise UsageError(f"scratchgen: --out must end in .npy or .png, got {path.name}")
    info = model.info
    title = f"{type(model).__name__} samples"
    if info.kind == "continuous" and info.shape == (2,):
        fig = viz.scatter(samples, reference, title=title, path=path)
    elif len(info.shape) == 3 and info.shape[0] in (1, 3):
        fig = viz.image_grid(samples, info.levels if info.kind == "categorical" else 2, path=path)
    elif len(info.shape) == 1:
        fig = viz.sequences(samples[:8], title=title, path=path)
    else:
        fig = viz.image_grid(samples.reshape(len(samples), 1, 1, -1), info.levels, path=path)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _draw_samples(model, n: int, seed: int) -> np.ndarray:
    """n samples; a class-conditional model cycles through its classes (0, 1, ..., 0, 1, ...)."""
    rng = np.random.default_rng(seed)
    if model.conditional:
        return model.sample(n, rng, y=np.arange(n) % model.hparams["num_classes"])
    return model.sample(n, rng)


def _kl_gap(dataset, metrics: dict[str, float]) -> dict[str, float]:
    """For toy data with an exact density: KL(p_data || p_model) = test NLL - H(p_data)."""
    from scratchgen.data import toy2d

    if dataset.log_density is None or "test_nll" not in metrics or dataset.name not in toy2d.TOYS:
        return {}
    entropy, se = toy2d.entropy(dataset.log_density, toy2d.TOYS[dataset.name][0])
    return {"data_entropy": entropy, "data_entropy_se": se, "kl_gap": metrics["test_nll"] - entropy}


# ---------------------------------------------------------------------- commands
def _cmd_list() -> None:
    from scratchgen import data, models

    print("models:")
    for name, description in models.available().items():
        print(f"  {name:20s} {description}")
    print("datasets:")
    for name, description in data.available().items():
        print(f"  {name:20s} {description}")


def _cmd_train(args: argparse.Namespace) -> None:
    from scratchgen import data, models
    from scratchgen.train import TrainConfig, Trainer
    from scratchgen.train.checkpoint import load_json, save_json

    out = args.out or Path("runs") / f"{args.model}-{Path(args.data).stem}"
    if args.resume:
        if args.set:
            raise UsageError(
                "scratchgen train: a resumed run keeps its settings; only --steps may change "
                "(start a new run with --out to change others)"
            )
        saved = load_json(out / "config.json")
        model_name, data_name = saved["model"], saved["data"]
        hparams, train_settings = saved["hparams"], saved["train"]
        if args.model != model_name:
            raise UsageError(f"scratchgen train: {out} holds a {model_name} run, not {args.model}")
    else:
        if (out / "checkpoint.npz").exists():
            raise UsageError(
                f"scratchgen train: {out} already holds a run; use --resume or another --out"
            )
        model_name, data_name = args.model, args.data
        hparams, train_settings = _split_settings(_parse_settings(args.set))
        train_settings["seed"] = args.seed
        hparams.setdefault("seed", args.seed)
    if args.steps is not None:
        train_settings["steps"] = args.steps
    dataset = data.load(data_name)
    model = models.create(model_name, dataset.info, **hparams)
    config = TrainConfig.from_dict(train_settings)
    trainer = Trainer(model, dataset, config, out, progress=not args.quiet)
    if args.resume:
        trainer.load(out)
    save_json(out / "config.json", {
        "model": model_name, "data": data_name, "hparams": model.hparams, "train": asdict(config),
        "info": {"shape": list(dataset.info.shape), "kind": dataset.info.kind,
                 "levels": dataset.info.levels},
    })  # fmt: skip
    metrics = trainer.fit()
    metrics.update(_kl_gap(dataset, metrics))
    save_json(out / "metrics.json", metrics)
    trained, _ = load_run(out)
    samples = _draw_samples(trained, 64, args.seed)
    _write_samples(trained, samples, out / "samples.npy", None)
    _write_samples(trained, samples, out / "samples.png", dataset.test[:2000])
    if "vocab" in dataset.extras:  # text: the samples as characters too
        lines = [data.decode(row, dataset.extras["vocab"]) for row in samples]
        (out / "samples.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
    )
    print(f"{model_name} on {data_name}: {summary}; wrote {out}")


def _cmd_sample(args: argparse.Namespace) -> None:
    if args.n < 1:
        raise UsageError("scratchgen sample: --n must be at least 1")
    model, config = load_run(args.run)
    samples = _draw_samples(model, args.n, args.seed)
    _write_samples(model, samples, args.out, None)
    print(f"wrote {args.n} samples of {config['model']} to {args.out}")


def _cmd_eval(args: argparse.Namespace) -> None:
    from scratchgen import data
    from scratchgen.train import evaluate
    from scratchgen.train.checkpoint import save_json

    model, config = load_run(args.run)
    name = args.data or config["data"]
    dataset = data.load(name)
    if dataset.info.shape != model.info.shape:
        raise UsageError(f"scratchgen eval: {name} has examples of shape {dataset.info.shape}, the "
                         f"model was trained on {model.info.shape}")  # fmt: skip
    labels = dataset.test_labels if model.conditional else None
    metrics = evaluate(model, dataset.test, y=labels)
    metrics.update(_kl_gap(dataset, metrics))
    target = args.run / (
        "metrics.json" if name == config["data"] else f"eval-{Path(name).stem}.json"
    )
    save_json(target, {**(json.loads(target.read_text()) if target.exists() else {}), **metrics})
    print(", ".join(f"{k} {v:.6g}" for k, v in metrics.items()) + f"; wrote {target}")


def main(argv: Sequence[str] | None = None) -> int:
    from scratchgen.data import DataError
    from scratchgen.models import UnsupportedData
    from scratchgen.train import CheckpointError, TrainingDiverged

    try:
        args = _build_parser().parse_args(argv)
        if args.command == "list":
            _cmd_list()
        elif args.command == "train":
            _cmd_train(args)
        elif args.command == "sample":
            _cmd_sample(args)
        elif args.command == "eval":
            _cmd_eval(args)
        elif args.command == "tour":
            from scratchgen.tour import run_tour

            run_tour(args.out, seed=args.seed, quick=args.quick)
        return 0
    except TrainingDiverged as error:
        print(f"scratchgen: training stopped: {error}", file=sys.stderr)
        return 1
    except (UsageError, DataError, CheckpointError, UnsupportedData) as error:
        print(error, file=sys.stderr)
        return 2
    except KeyError as error:  # unknown model or setting: the message is the key's argument
        print(f"scratchgen: {error.args[0]}", file=sys.stderr)
        return 2
    except ValueError as error:  # a setting out of range (batch size, optimizer name, ...)
        print(f"scratchgen: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scratchgen: interrupted", file=sys.stderr)
        return 130
