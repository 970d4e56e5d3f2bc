"""Consistency models (Song et al. 2023): the results of issue 22's consistency part.

* ``toys``: on eight Gaussians, a DDPM teacher (the diffusion toys' budget: 2000 Adam steps of
  256 points at 3e-3, cosine decay), then a consistency model distilled from it (N = 18,
  mu = 0.95) and one trained from scratch (N(k) from 2 to s1 + 1 = 18 levels over the run's
  K = 2000 updates, mu0 = 0.9), each for the same 2000 steps, sigma_data the data's standard
  deviation. W2 between 2000 samples and 2000 held-out points at 1 and 2 steps, beside the
  teacher's DDIM at 50 steps. ``docs/consistency_toys.png``: the one-step map (noise points
  x_T = T z, drawn at z, joined to f(x_T, T)), and the samples.
* ``mnist``: the DDPM of the diffusion table's MNIST settings as teacher (``--minutes`` of
  training), then a distilled and a trained consistency model with the same UNet for
  ``--minutes`` each (consistency training at s1 = 40: the paper's 150 levels need its 800k
  updates), sampled from their EMA weights; FID and KID of ``--samples`` samples with the
  scratchgen MNIST network at 1, 2 and 4 steps, beside the teacher at DDIM 50 and EDM's Heun
  at 39 evaluations. ``docs/consistency_mnist.png``: a row of samples per row of the table.

Each row is printed as JSON. Run: python -m benchmarks.consistency toys, or
python -m benchmarks.consistency mnist [--minutes M] [--samples N] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.budget import budget_steps, trained_for
from benchmarks.diffusion import MNIST_NETWORK, MNIST_TRAINING, TOY_TRAINING
from scratchgen import data, metrics, models, train, viz
from scratchgen.evaluation import score_samples

TOY = "eight_gaussians"
TOY_STEPS = 2000
STUDENTS = {"distilled": {"objective": "distillation", "N": 18, "mu": 0.95},
            "trained": {"objective": "training", "s1": 17, "mu0": 0.9}}  # fmt: skip
MNIST_CT = {"s1": 40}
STEPS = (1, 2, 4)


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


def toys(folder: Path) -> None:
    import matplotlib.pyplot as plt

    dataset = data.load(TOY)
    held_out = dataset.test[-2000:]
    teacher = models.create("ddpm", dataset.info)
    config = train.TrainConfig(steps=TOY_STEPS, **TOY_TRAINING)
    teacher_trainer = train.Trainer(teacher, dataset, config, progress=False)
    teacher_trainer.fit()
    fig, axes = plt.subplots(1, 5, figsize=(15, 3.2))
    with teacher_trainer.ema.applied(teacher):
        started = time.perf_counter()
        samples = teacher.sample(2000, np.random.default_rng(1), "ddim", steps=50)
        seconds = round(time.perf_counter() - started, 2)
        _print({"model": "DDPM teacher, DDIM 50", "nfe": 50, "sampling_seconds": seconds,
                "w2": metrics.wasserstein2(samples, held_out)})  # fmt: skip
        viz.scatter(samples, ax=axes[0], title="teacher: DDPM, DDIM 50 steps")
        denoiser = teacher.denoiser()
        for column, (label, settings) in enumerate(STUDENTS.items()):
            student = models.create("consistency", dataset.info, K=TOY_STEPS,
                                    sigma_data=float(dataset.train.std()), **settings)  # fmt: skip
            if label == "distilled":
                student.set_teacher(denoiser, denoiser.sigmas)
            trainer = train.Trainer(student, dataset, config, progress=False)
            fitted = trainer.fit()
            with trainer.ema.applied(student):
                for steps in STEPS[:2]:
                    samples = student.sample(2000, np.random.default_rng(1), steps=steps)
                    _print({"model": f"consistency, {label}", "nfe": steps,
                            "w2": metrics.wasserstein2(samples, held_out),
                            "train_seconds": round(fitted["seconds"])})  # fmt: skip
                    if steps == 1:
                        viz.scatter(samples, ax=axes[2 + 2 * column],
                                    title=f"{label}: one step")  # fmt: skip
                _one_step_map(student, axes[1 + 2 * column], f"{label}: the one-step map")
    fig.tight_layout()
    fig.savefig(folder / "consistency_toys.png", dpi=70)
    print(f"wrote {folder / 'consistency_toys.png'}")


def _one_step_map(model, ax, title: str) -> None:
    """Noise points x_T = T z drawn at z (scaled to the data), each joined to f(x_T, T)."""
    T = model.hparams["sigma_max"]
    z = np.random.default_rng(5).standard_normal((300, 2))
    mapped = model.consistency(T * z, np.full(len(z), T))
    viz.displacements(z * float(model.hparams["sigma_data"]), mapped, ("noise z", "f(T z, T)"),
                      title, ax=ax)  # fmt: skip


def mnist_student(label: str, minutes: float, dataset: data.Dataset,
                  out: Path) -> tuple[models.GenerativeModel, train.Trainer]:  # fmt: skip
    """One of ``STUDENTS`` on MNIST with the teacher's UNet, trained for ``minutes`` into
    ``out/label`` (or loaded from there)."""
    settings = {**MNIST_NETWORK, **STUDENTS[label]}
    if label == "distilled":
        settings["teacher"] = str(out / "teacher")
    else:  # the paper's K is the run's own length; s1 below its 150 for a short run
        settings.update(MNIST_CT)
        settings["K"] = budget_steps(minutes, "consistency", dataset, settings, MNIST_TRAINING,
                                     out / label)  # fmt: skip
    return trained_for(minutes, "consistency", dataset, settings, MNIST_TRAINING, out / label)


def mnist(minutes: float, n: int, out: Path, folder: Path) -> None:
    dataset = data.load("mnist")
    teacher, teacher_trainer = trained_for(minutes, "ddpm", dataset, MNIST_NETWORK,
                                           MNIST_TRAINING, out / "teacher")  # fmt: skip
    rows, pictures = [], []

    def score(label: str, draw, nfe: int, trainer: train.Trainer) -> None:
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        samples = draw(rng)
        seconds = time.perf_counter() - started
        scores = score_samples(samples, dataset, ["fid", "kid"], rng, progress=False)
        rows.append({"model": label, "nfe": nfe, "sampling_seconds": round(seconds, 1),
                     "train_steps": trainer.step, "train_seconds": round(trainer.seconds),
                     **scores})  # fmt: skip
        _print(rows[-1])
        pictures.append(samples[:16])

    with teacher_trainer.ema.applied(teacher):
        for sampler, steps, nfe in (("ddim", 50, 50), ("edm_heun", 20, 39)):
            draw = functools.partial(teacher.sample, n, sampler=sampler, steps=steps)
            score(f"DDPM teacher, {sampler} {steps}", draw, nfe, teacher_trainer)
    for label in STUDENTS:
        model, trainer = mnist_student(label, minutes, dataset, out)
        with trainer.ema.applied(model):
            for steps in STEPS:
                draw = functools.partial(model.sample, n, steps=steps)
                score(f"consistency, {label}, {steps} step{'s' * (steps > 1)}", draw, steps,
                      trainer)  # fmt: skip
    (out / "results.json").write_text(json.dumps(rows))
    title = "MNIST, a row per model: " + ", ".join(r["model"] for r in rows)
    viz.image_grid(np.concatenate(pictures), levels=dataset.info.levels, columns=16,
                   path=folder / "consistency_mnist.png", title=title)  # fmt: skip
    print(f"wrote {folder / 'consistency_mnist.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=["toys", "mnist"])
    parser.add_argument("--minutes", type=float, default=25.0, help="training budget per model")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("runs/consistency"))
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)
    if args.table == "toys":
        toys(args.figures)
    else:
        mnist(args.minutes, args.samples, args.out, args.figures)


if __name__ == "__main__":
    main()
