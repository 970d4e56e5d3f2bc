"""Class-conditional MNIST with classifier-free and classifier guidance: the results table of
issue 21 (Ho & Salimans 2022; Dhariwal & Nichol 2021).

One class-conditional DDPM (the network and training of the DDPM MNIST table, with 10 classes
and the label dropped at p_uncond = 0.1) is trained for ``--minutes``; its null class is the
unconditional model that a noisy classifier (the same UNet with ten class maps, trained for
``--classifier-minutes`` on the same schedule's noised images) guides. Every row samples
``--samples`` images by DDIM in 50 steps (eta = 0) from the EMA weights, the labels cycling
through the ten classes, and reports the class accuracy of the samples by the scratchgen
MNIST network (what fraction is the digit asked for), FID, KID, precision and recall against
as many test images:

* ``cfg w``: classifier-free guidance at weight w (w = 0: the conditional model as trained);
* ``classifier s``: the null class guided by the classifier at scale s;
* ``conditional+classifier s``: the conditional model (w = 0) guided by the classifier too;
* ``unconditional``: the null class alone (its accuracy is chance, 0.1, by construction).

With the noisy classifier's accuracy at five noise levels. Figures: ``docs/guidance_mnist.png``
(two samples of each class per row) and ``docs/guidance_mnist_tradeoff.png`` (accuracy against
FID). The run folders (``--out``) keep the checkpoints: run again to sample without training.
Run: python -m benchmarks.guidance [--minutes M] [--classifier-minutes M] [--samples N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.budget import trained_for
from benchmarks.diffusion import MNIST_NETWORK, MNIST_TRAINING
from scratchgen import data, metrics, viz
from scratchgen.evaluation import score_samples
from scratchgen.models.diffusion import NoisyClassifier

CONDITIONAL = {**MNIST_NETWORK, "num_classes": 10, "p_uncond": 0.1}
# the DDPM's own network, with ten class maps (a first run at 8 channels, trained 8 minutes,
# read clean digits at 75% and guided the null class from 0.10 to only 0.23 at s = 8)
CLASSIFIER = {"num_classes": 10, "channels": 16, "multipliers": [1, 2], "groups": 8}
ROWS = ("cfg 0", "cfg 0.5", "cfg 1", "cfg 2", "cfg 4", "classifier 1", "classifier 2",
        "classifier 4", "classifier 8", "conditional+classifier 1",
        "conditional+classifier 2", "unconditional")  # fmt: skip
DDIM_STEPS = 50


def _print(row: dict) -> None:
    print(json.dumps(row), flush=True)


def _sample(model, classifier, row: str, n: int, rng: np.random.Generator) -> np.ndarray:
    kind, _, weight = row.partition(" ")
    y = np.arange(n) % 10
    if kind == "cfg":
        return model.sample(n, rng, "ddim", steps=DDIM_STEPS, y=y, guidance=float(weight))
    if kind in ("classifier", "conditional+classifier"):  # the null class, or the labels' own
        return model.sample(n, rng, "ddim", steps=DDIM_STEPS, y=y, classifier=classifier,
                            classifier_scale=float(weight),
                            unconditional=kind == "classifier")  # fmt: skip
    return model.sample(n, rng, "ddim", steps=DDIM_STEPS)


def mnist(minutes: float, classifier_minutes: float, n: int, out: Path, folder: Path) -> None:
    import matplotlib.pyplot as plt

    dataset = data.load("mnist")
    model, trainer = trained_for(minutes, "ddpm", dataset, CONDITIONAL, MNIST_TRAINING,
                                 out / "ddpm")  # fmt: skip
    classifier, classifier_trainer = trained_for(classifier_minutes, NoisyClassifier, dataset,
                                                 CLASSIFIER, MNIST_TRAINING,
                                                 out / "classifier-16")  # fmt: skip
    classifier.eval()
    test = dataset.test[:1000]
    accuracy = classifier.accuracy_by_step(test, dataset.test_labels[:1000],
                                           [0, 250, 500, 750, 999],
                                           np.random.default_rng(0))  # fmt: skip
    _print({"classifier_accuracy_by_step": accuracy, "train_steps": classifier_trainer.step,
            "train_seconds": round(classifier_trainer.seconds)})  # fmt: skip
    reader = metrics.feature_network("mnist", progress=False)
    rows, pictures = [], []
    with trainer.ema.applied(model):
        for row in ROWS:
            rng = np.random.default_rng(0)
            started = time.perf_counter()
            samples = _sample(model, classifier, row, n, rng)
            seconds = time.perf_counter() - started
            scores = score_samples(samples, dataset, ["fid", "kid", "pr"], rng, progress=False)
            asked = np.arange(n) % 10
            rows.append({"data": "mnist", "row": row, "samples": n,
                         "class_accuracy": float(np.mean(reader.classify(samples) == asked)),
                         **scores, "sampling_seconds": round(seconds, 1),
                         "train_steps": trainer.step,
                         "train_seconds": round(trainer.seconds)})  # fmt: skip
            _print(rows[-1])
            pictures.append(samples[:20])
    (out / "results.json").write_text(json.dumps(rows))
    title = f"one conditional DDPM on MNIST, a row each: {', '.join(ROWS)}"
    viz.image_grid(np.concatenate(pictures), levels=dataset.info.levels, columns=20,
                   path=folder / "guidance_mnist.png", title=title)  # fmt: skip
    fig, ax = plt.subplots(figsize=(5, 3.5))
    fid_key = next(k for k in rows[0] if k.startswith("fid_"))
    for kind, marker in (("cfg", "o"), ("classifier", "s"), ("conditional+classifier", "^")):
        chosen = [r for r in rows if r["row"].split()[0] == kind]
        ax.plot([r[fid_key] for r in chosen], [r["class_accuracy"] for r in chosen],
                marker=marker, label=f"{kind} guidance")  # fmt: skip
        for r in chosen:
            ax.annotate(r["row"].split()[1], (r[fid_key], r["class_accuracy"]), fontsize=7)
    ax.set(xlabel=f"FID ({n} samples)", ylabel="class accuracy of the samples",
           title="Guidance on MNIST: fidelity to the class against FID")  # fmt: skip
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "guidance_mnist_tradeoff.png", dpi=90)
    print(f"wrote {folder / 'guidance_mnist.png'} and guidance_mnist_tradeoff.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="the DDPM's training")
    parser.add_argument("--classifier-minutes", type=float, default=15.0)
    parser.add_argument("--samples", type=int, default=250, help="samples per row")
    parser.add_argument("--out", type=Path, default=Path("runs/guidance-mnist"))
    parser.add_argument("--figures", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.figures.mkdir(parents=True, exist_ok=True)
    mnist(args.minutes, args.classifier_minutes, args.samples, args.out, args.figures)


if __name__ == "__main__":
    main()
