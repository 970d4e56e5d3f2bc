"""The ``scratchgen`` command line.

    scratchgen list [MODEL]
    scratchgen train MODEL --data DATASET [--steps N] [--seed S] [--out DIR] [--set k=v ...]
                     [--resume]
    scratchgen sample DIR [--n N] [--seed S] [--temperature T] [--label Y] [--guidance W]
                          [--caption TEXT ...]
                      --out FILE.npy|FILE.png
    scratchgen sample DIR (--inpaint MASK.npy --given X.npy | --colorize GREY.npy |
                      --super-resolve LOW.npy [--factor F]) [--solver S] --out FILE
    scratchgen eval DIR [--data DATASET|FILE] [--metrics NAME ...] [--samples N] [--seed S]
    scratchgen tour [--out DIR] [--quick] [--only SECTION ...] [--workers N] [--list]

A run folder holds checkpoint.npz, trainer.json, config.json, metrics.json, metrics.jsonl,
samples.npy and samples.png (and samples.txt for text). Exit status:

- 2, with one line on stderr and never a traceback: a user mistake (a setting of the wrong
  type or out of range, an unknown name, an unreadable file, a run folder in use);
- 1: training stopped (the loss diverged, or a file could not be written), the last good
  checkpoint kept;
- 130 (Ctrl-C) or 143 (SIGTERM): during training, after a checkpoint at the step reached,
  which --resume continues as if there had been no interruption.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
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
    listing = commands.add_parser("list", help="models and datasets, or one model's settings")
    listing.add_argument("model", nargs="?", help="show this model's settings")

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
    sample.add_argument("--temperature", type=float, help="flows: z ~ N(0, T^2 I), T > 0")
    sample.add_argument("--label", type=int, help="class-conditional models: one class for all "
                        "(default: cycling through the classes)")  # fmt: skip
    sample.add_argument("--guidance", type=float, help="conditional diffusion models: "
                        "classifier-free weight w >= 0: (1+w) eps(x, y) - w eps(x)")  # fmt: skip
    sample.add_argument("--caption", action="append", metavar="TEXT",
                        help="captioned diffusion models (condition=caption): a caption of the "
                        "shapes world, e.g. 'a red circle at the top left'; repeat it for "
                        "several, the samples cycling through them")  # fmt: skip
    sample.add_argument("--out", type=Path, required=True, help="FILE.npy or FILE.png")
    inverse = sample.add_argument_group("inverse problems (ddpm runs): complete measurements")
    inverse.add_argument("--inpaint", type=Path, metavar="MASK.npy",
                         help="a bool mask, the image's shape or H x W: True = seen")  # fmt: skip
    inverse.add_argument("--given", type=Path, metavar="X.npy", help="--inpaint: the images")
    inverse.add_argument("--colorize", type=Path, metavar="GREY.npy",
                         help="grey images (n, 1, H, W), Rec. 601 luminance")  # fmt: skip
    inverse.add_argument("--super-resolve", type=Path, metavar="LOW.npy",
                         help="images averaged over --factor x --factor blocks")  # fmt: skip
    inverse.add_argument("--factor", type=int, default=2)
    inverse.add_argument("--solver", choices=("replacement", "repaint", "dps"),
                         default="replacement")  # fmt: skip
    inverse.add_argument("--truth", type=Path, metavar="X.npy",
                         help="the true images: a figure's last row")  # fmt: skip
    inverse.add_argument("--steps", type=int, metavar="N",
                         help="the chain respaced to N of its levels (default: all)")  # fmt: skip

    evaluate = commands.add_parser("eval", help="evaluate a trained model on test data")
    evaluate.add_argument("run", type=Path)
    evaluate.add_argument("--data", help="default: the data it was trained on")
    evaluate.add_argument("--metrics", nargs="+", metavar="NAME",
                          help="of nll bpd fid kid pr dc mmd w2 modes nn (default: all that "
                               "apply)")  # fmt: skip
    evaluate.add_argument("--samples", type=int, default=2000,
                          help="model samples for the sample metrics (default 2000)")  # fmt: skip
    evaluate.add_argument("--seed", type=int, default=0)

    tour = commands.add_parser("tour", help="the demo: train small models and write a gallery")
    tour.add_argument("--out", type=Path, default=Path("tour"), help="output folder")
    tour.add_argument("--seed", type=int, default=0)
    tour.add_argument("--quick", action="store_true", help="a few steps only (for tests)")
    tour.add_argument("--only", nargs="+", metavar="SECTION", help="run these sections only")
    tour.add_argument("--list", action="store_true", help="name the sections and stop")
    tour.add_argument("--workers", type=int, default=None,
                      help="sections run side by side (default: one per core; 1: in order, in "
                      "this process)")  # fmt: skip
    return parser


MAX_SAMPLES = 100_000  # more is a mistyped number: one draw of 100 000 digits is 50 MB


class Interrupted(Exception):
    """Training stopped by a signal: reported in one line, exit status 128 + the signal's
    number (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process the signal ended."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum


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
    from scratchgen.train.trainer import TRAIN_SETTINGS

    model = {k: v for k, v in settings.items() if k not in TRAIN_SETTINGS}
    return model, {k: v for k, v in settings.items() if k in TRAIN_SETTINGS}


def _write_samples(model, samples: np.ndarray, path: Path, reference: np.ndarray | None,
                   columns: int | None = None) -> None:  # fmt: skip
    """samples.npy, or a picture chosen by the kind of data (images ``columns`` a row)."""
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
        fig = viz.image_grid(samples, info.levels if info.kind == "categorical" else 2, columns,
                             path=path)  # fmt: skip
    elif len(info.shape) == 3 and info.shape[0] in (2, 6):  # rows of two images (translations)
        c = info.shape[0] // 2
        pairs = samples[:32].reshape(-1, c, *info.shape[1:])  # each row's two images side by side
        fig = viz.image_grid(pairs, info.levels if info.kind == "categorical" else 2, columns=8,
                             path=path)  # fmt: skip
    elif len(info.shape) == 1:
        fig = viz.sequences(samples[:8], title=title, path=path)
    else:
        fig = viz.image_grid(samples.reshape(len(samples), 1, 1, -1), info.levels, path=path)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _kl_gap(dataset, metrics: dict[str, float]) -> dict[str, float]:
    """For toy data with an exact density: KL(p_data || p_model) = test NLL - H(p_data)."""
    from scratchgen.data import toy2d

    if dataset.log_density is None or "test_nll" not in metrics or dataset.name not in toy2d.TOYS:
        return {}
    entropy, se = toy2d.entropy(dataset.log_density, toy2d.TOYS[dataset.name][0])
    return {"data_entropy": entropy, "data_entropy_se": se, "kl_gap": metrics["test_nll"] - entropy}


# ---------------------------------------------------------------------- commands
def _cmd_list(model: str | None) -> None:
    from scratchgen import data, models

    if model is not None:
        from scratchgen.models.base import entry

        chosen = entry(model)  # an unknown name is a one-line KeyError
        print(f"{model}: {models.available()[chosen.name]}")
        for name, declared in chosen.settings.items():
            default = json.dumps(list(declared.default) if declared.kind is list
                                 else declared.default)  # fmt: skip
            print(f"  {name:18s} {default:14s} {declared.allowed()}")
        return
    print("models:")
    for name, description in models.available().items():
        print(f"  {name:20s} {description}")
    print("datasets:")
    for name, description in data.available().items():
        print(f"  {name:20s} {description}")


def _cmd_train(args: argparse.Namespace) -> None:
    from scratchgen import models
    from scratchgen.train import TrainConfig, folder_lock

    out = args.out or Path("runs") / f"{args.model}-{Path(args.data).stem}"
    if args.resume and args.set:
        raise UsageError(
            "scratchgen train: a resumed run keeps its settings; only --steps may change "
            "(start a new run with --out to change others)"
        )
    if not args.resume:  # every setting is checked before any data is loaded or folder made
        settings = _parse_settings(args.set)
        seed = settings.pop("seed", args.seed)  # --set seed=S is --seed S: data order and model
        hparams, train_settings = _split_settings(settings)
        train_settings["seed"] = seed
        hparams["seed"] = seed
        if args.steps is not None:
            if "steps" in train_settings:
                raise UsageError("scratchgen train: give steps once: --steps N or --set steps=N")
            train_settings["steps"] = args.steps
        run = (args.model, args.data, models.check_settings(args.model, hparams),
               TrainConfig.from_dict(train_settings))  # fmt: skip
    elif not (out / "config.json").exists():
        raise UsageError(f"scratchgen train: no run in {out} to resume (no config.json there)")
    with folder_lock(out):
        if args.resume:
            run = _resumed_run(args, out)
        elif (out / "checkpoint.npz").exists():
            raise UsageError(
                f"scratchgen train: {out} already holds a run; use --resume or another --out"
            )
        _train_in(out, *run, args)


def _resumed_run(args: argparse.Namespace, out: Path) -> tuple[str, str, dict, Any]:
    """(model, data, model settings, TrainConfig) of the run in ``out``, --steps applied."""
    from scratchgen.train import TrainConfig
    from scratchgen.train.checkpoint import load_json

    saved = load_json(out / "config.json")
    if args.model != saved["model"]:
        raise UsageError(f"scratchgen train: {out} holds a {saved['model']} run, not {args.model}")
    train_settings = dict(saved["train"])
    if args.steps is not None:
        train_settings["steps"] = args.steps
    return saved["model"], saved["data"], saved["hparams"], TrainConfig.from_dict(train_settings)


def _train_in(out: Path, model_name: str, data_name: str, hparams: dict[str, Any], config: Any,
              args: argparse.Namespace) -> None:  # fmt: skip
    """Train (or resume) the run in ``out``, whose lock this process holds, and write its
    metrics and samples."""
    from scratchgen import data, models
    from scratchgen.evaluation import draw_samples
    from scratchgen.train import Trainer, TrainingInterrupted, load_run, save_run_config
    from scratchgen.train.checkpoint import remove_temporaries, save_json

    remove_temporaries(out)  # a killed run's half-written files
    dataset = data.load(data_name)
    model = models.create(model_name, dataset.info, **hparams)
    trainer = Trainer(model, dataset, config, out, progress=not args.quiet)
    if args.resume:
        trainer.load(out)
        if trainer.step >= config.steps:
            raise UsageError(f"scratchgen train: the run in {out} is already at step "
                             f"{trainer.step}; give --steps above it to train on")  # fmt: skip
    save_run_config(out, model_name, data_name, model, config)
    try:
        with warnings.catch_warnings():
            # NumPy's overflow warnings precede a divergence, which the trainer reports itself
            warnings.simplefilter("ignore", RuntimeWarning)
            metrics = trainer.fit()
    except TrainingInterrupted as stop:
        raise Interrupted(
            f"scratchgen: interrupted at step {stop.step}; the checkpoint in {out} is at that "
            f"step, and `scratchgen train {model_name} --data {data_name} --out {out} --resume` "
            "continues the run",
            stop.signum,
        ) from None
    metrics.update(_kl_gap(dataset, metrics))
    save_json(out / "metrics.json", metrics)
    trained, _ = load_run(out)
    samples = draw_samples(trained, 64, np.random.default_rng(args.seed), given=dataset.test)
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
    if not 1 <= args.n <= MAX_SAMPLES:
        raise UsageError(f"scratchgen sample: --n must be from 1 to {MAX_SAMPLES}, got {args.n}")
    if args.seed < 0:
        raise UsageError(f"scratchgen sample: --seed must be 0 or more, got {args.seed}")
    if args.temperature is not None and not args.temperature > 0:
        raise UsageError(f"scratchgen sample: --temperature must be above 0, got "
                         f"{args.temperature}")  # fmt: skip
    if args.guidance is not None and not args.guidance >= 0:
        raise UsageError(f"scratchgen sample: --guidance must be 0 or more, got {args.guidance}")
    from scratchgen.evaluation import NotApplicable, draw_samples
    from scratchgen.train import load_run

    model, config = load_run(args.run)
    if args.inpaint or args.colorize or args.super_resolve:
        _complete(model, args)
        return
    given = None
    if getattr(model, "translates", False):  # translations of the run's own test images
        from scratchgen import data

        given = data.load(config["data"]).test
    try:
        samples = draw_samples(model, args.n, np.random.default_rng(args.seed), args.temperature,
                               given, args.label, args.guidance, args.caption)  # fmt: skip
    except NotApplicable as error:
        raise UsageError(f"scratchgen sample: {error}") from None
    _write_samples(model, samples, args.out, None)
    print(f"wrote {len(samples)} samples of {config['model']} to {args.out}")


def _read_array(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UsageError(f"scratchgen sample: could not read {what} {path}: {error}") from None


def _measurement(model, args: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray]:
    """(operator, y, what to show of y as images) from the flags of one inverse problem."""
    from scratchgen import inverse

    shape = model.info.shape
    if sum(bool(flag) for flag in (args.inpaint, args.colorize, args.super_resolve)) != 1:
        raise UsageError("scratchgen sample: give one of --inpaint, --colorize, --super-resolve")
    if args.inpaint:
        if args.given is None:
            raise UsageError("scratchgen sample: --inpaint needs --given X.npy, the images")
        mask, x = _read_array(args.inpaint, "the mask"), _read_array(args.given, "the images")
        if x.ndim != len(shape) + 1 or x.shape[1:] != shape:
            raise UsageError(f"scratchgen sample: --given must be (n, {', '.join(map(str, shape))})"
                             f" images, got {x.shape}")  # fmt: skip
        try:
            operator = inverse.Inpaint(mask.astype(bool))
            y = operator.apply(x)
        except ValueError as error:
            raise UsageError(f"scratchgen sample: {error}") from None
        return operator, y, y
    if args.colorize:
        y = _read_array(args.colorize, "the grey images")
        return inverse.Colorize(), y, np.repeat(y, 3, axis=1) if y.ndim == 4 else y
    if args.factor < 1:
        raise UsageError(f"scratchgen sample: --factor must be 1 or more, got {args.factor}")
    y = _read_array(args.super_resolve, "the low-resolution images")
    f = args.factor
    return inverse.SuperResolve(f), y, np.repeat(np.repeat(y, f, axis=-2), f, axis=-1)


def _complete(model, args: argparse.Namespace) -> None:
    """The inverse problems: completions of a measurement by a model that has ``complete``,
    written as .npy, or as a figure of the measurement's rows over the completions'."""
    if not hasattr(model, "complete"):
        raise UsageError(f"scratchgen sample: {model.registered_name} does not complete "
                         "measurements (ddpm does)")  # fmt: skip
    operator, y, shown = _measurement(model, args)
    if y.ndim < 2:
        raise UsageError(f"scratchgen sample: the measurement must be images, n first; got "
                         f"shape {y.shape}")  # fmt: skip
    try:
        expected = operator.apply(np.zeros((max(len(y), 1), *model.info.shape))).shape
    except ValueError as error:  # an operator that does not fit these images at all
        raise UsageError(f"scratchgen sample: {error}") from None
    if y.shape != expected:
        raise UsageError(f"scratchgen sample: the measurement must be {expected} for this "
                         f"model's images, got {y.shape}")  # fmt: skip
    levels = model.schedule.T
    if args.steps is not None and not 1 <= args.steps <= levels:
        raise UsageError(f"scratchgen sample: --steps must be from 1 to the model's {levels} "
                         f"levels, got {args.steps}")  # fmt: skip
    truth = _truth(args, (len(y), *model.info.shape))  # checked before the work
    completed = model.complete(operator, y, np.random.default_rng(args.seed), args.solver,
                               steps=args.steps)  # fmt: skip
    if args.out.suffix == ".npy":
        _write_samples(model, completed, args.out, None)
        print(f"wrote {len(completed)} completions ({args.solver}) to {args.out}")
        return
    rows = [shown, completed] + ([] if truth is None else [truth])
    _write_samples(model, np.concatenate([r.astype(completed.dtype) for r in rows]), args.out,
                   None, columns=len(completed))  # fmt: skip
    print(f"wrote {len(completed)} completions ({args.solver}) to {args.out}: the measurement, "
          f"the completions{'' if truth is None else ' and the truth'}, a row each")  # fmt: skip


def _truth(args: argparse.Namespace, shape: tuple[int, ...]) -> np.ndarray | None:
    """The true images for a figure's last row: --truth, or --inpaint's --given images."""
    if args.truth is None:
        return _read_array(args.given, "the images") if args.inpaint else None
    truth = _read_array(args.truth, "the true images")
    if truth.shape != shape:
        raise UsageError(f"scratchgen sample: --truth must be {shape}, as the completions, got "
                         f"{truth.shape}")  # fmt: skip
    return truth


def _cmd_eval(args: argparse.Namespace) -> None:
    from scratchgen import data, evaluation, viz
    from scratchgen.train import load_run
    from scratchgen.train.checkpoint import save_json

    if not 2 <= args.samples <= MAX_SAMPLES:
        raise UsageError(f"scratchgen eval: --samples must be from 2 to {MAX_SAMPLES}, got "
                         f"{args.samples}")  # fmt: skip
    if args.seed < 0:
        raise UsageError(f"scratchgen eval: --seed must be 0 or more, got {args.seed}")
    model, config = load_run(args.run)
    name = args.data or config["data"]
    dataset = data.load(name)
    if dataset.info.shape != model.info.shape:
        raise UsageError(f"scratchgen eval: {name} has examples of shape {dataset.info.shape}, the "
                         f"model was trained on {model.info.shape}")  # fmt: skip
    try:
        evaluation.check(args.metrics or [], model, dataset)
    except evaluation.NotApplicable as error:
        raise UsageError(f"scratchgen eval: {error}") from None
    suffix = "" if name == config["data"] else f"-{Path(name).stem}"

    def picture(samples: np.ndarray) -> None:  # samples beside their nearest training examples
        if len(model.info.shape) == 3 and model.info.shape[0] in (1, 3):
            levels = model.info.levels if model.info.kind == "categorical" else 2
            fig = viz.nearest_neighbour_grid(samples[:8], dataset.train, levels,
                                             path=args.run / f"nearest{suffix}.png")  # fmt: skip
            import matplotlib.pyplot as plt

            plt.close(fig)

    metrics = evaluation.evaluate_model(model, dataset, args.metrics, n=args.samples,
                                        rng=np.random.default_rng(args.seed),
                                        on_samples=picture)  # fmt: skip
    metrics.update(_kl_gap(dataset, metrics))
    target = args.run / ("metrics.json" if not suffix else f"eval{suffix}.json")
    save_json(target, {**(json.loads(target.read_text()) if target.exists() else {}), **metrics})
    print(", ".join(f"{k} {v:.6g}" for k, v in metrics.items()) + f"; wrote {target}")


def main(argv: Sequence[str] | None = None) -> int:
    from scratchgen.data import DataError
    from scratchgen.models import UnsupportedData
    from scratchgen.train import CheckpointError, FolderInUse, TrainingStopped

    try:
        args = _build_parser().parse_args(argv)
        if args.command == "list":
            _cmd_list(args.model)
        elif args.command == "train":
            _cmd_train(args)
        elif args.command == "sample":
            _cmd_sample(args)
        elif args.command == "eval":
            _cmd_eval(args)
        elif args.command == "tour":
            from scratchgen import tour

            if args.list:
                print(tour.section_list())
            else:
                tour.run_tour(args.out, seed=args.seed, quick=args.quick, only=args.only,
                              workers=args.workers)  # fmt: skip
        return 0
    except TrainingStopped as error:
        print(f"scratchgen: training stopped: {error}", file=sys.stderr)
        return 1
    except (UsageError, DataError, CheckpointError, UnsupportedData, FolderInUse) as error:
        print(error, file=sys.stderr)
        return 2
    except KeyError as error:  # an unknown model or name: the message is the key's argument
        print(f"scratchgen: {error.args[0]}", file=sys.stderr)
        return 2
    except ValueError as error:  # a setting out of range or at odds with another, or the data
        print(f"scratchgen: {error}", file=sys.stderr)
        return 2
    except MemoryError:
        print("scratchgen: out of memory; try smaller settings (widths, batch_size)",
              file=sys.stderr)  # fmt: skip
        return 1
    except BrokenPipeError:  # the output went to `head` or the like, which has what it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except OSError as error:  # a file that cannot be written: disk full, no permission
        print(f"scratchgen: {error}", file=sys.stderr)
        return 1
    except Interrupted as stop:
        print(stop, file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print("scratchgen: interrupted", file=sys.stderr)
        return 130
