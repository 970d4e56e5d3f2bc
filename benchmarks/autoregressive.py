"""Autoregressive models on the 8x8 digits and the grammar text under fixed training budgets.

Binary digits: test NLL (nats per image), train NLL (the gap shows overfitting: the set has
1438 training images), and seconds per epoch, FID, KID, precision and recall with the
scratchgen feature network of the data (``benchmarks.sample_scores``), and a figure of samples
from each model.
With ``--levels``: the PixelCNNs on the digits with 17 grey levels, in bits per dimension (a
softmax output, a logistic mixture, the gated stacks, and the gated model conditioned on the
class with its Bayes-rule accuracy), a figure of class-conditional samples, and the
character Transformer on the grammar text in bits per character beside the grammar's exact
entropy rate (the gap is the KL divergence per character).
Run: python -m benchmarks.autoregressive [--epochs N] [--figure PATH] [--levels]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks import sample_scores
from scratchgen import data, models, train, viz
from scratchgen.data import grammar
from scratchgen.train import evaluate

BATCH = 64
MODELS = {
    "fvsbn": {},
    "nade": {"hidden": 64},
    "made": {"hidden": (64, 64), "num_masks": 4},
    "pixelcnn": {"filters": 16, "layers": 3, "kernel_size": 5},
    "gated_pixelcnn": {"filters": 16, "layers": 3, "kernel_size": 5},
}


# the 17-level digits: (label, model, settings), one budget for all
LEVEL_MODELS = [
    ("PixelCNN, softmax", "pixelcnn", {"filters": 16, "layers": 3, "kernel_size": 5}),
    ("PixelCNN, logistic mixture", "pixelcnn",
     {"filters": 16, "layers": 3, "kernel_size": 5, "output": "logistic_mixture"}),
    ("Gated PixelCNN, softmax", "gated_pixelcnn", {"filters": 16, "layers": 3, "kernel_size": 5}),
    ("Gated PixelCNN, class-conditional", "gated_pixelcnn",
     {"filters": 16, "layers": 3, "kernel_size": 5, "num_classes": 10}),
]  # fmt: skip


def _fit(model, dataset, epochs: int, batch: int, lr: float) -> tuple[dict, float]:
    """Train for ``epochs`` passes; the test metrics and the seconds per epoch."""
    steps = epochs * (len(dataset.train) // batch)
    start = time.perf_counter()
    metrics = train.fit(model, dataset, progress=False, steps=steps, batch_size=batch, lr=lr,
                        eval_every=10**9)  # fmt: skip
    return metrics, (time.perf_counter() - start) / epochs


def run(epochs: int, figure: Path | None) -> list[dict]:
    digits = data.load("digits_binary")
    rows, samples = [], []
    for name, hparams in MODELS.items():
        model = models.create(name, digits.info, **hparams)
        metrics, seconds = _fit(model, digits, epochs, BATCH, 0.005)
        train_nll = evaluate(model, digits.train)["test_nll"]
        rows.append({
            "model": name, "test_nll": metrics["test_nll"], "train_nll": train_nll,
            "seconds_per_epoch": seconds, "parameters": model.num_parameters(),
            **sample_scores.of_model(model, digits),
        })  # fmt: skip
        samples.append(model.sample(8, np.random.default_rng(0)))
    if figure is not None:
        import matplotlib.pyplot as plt

        fig = viz.image_grid(np.concatenate(samples), levels=2, columns=8,
                             title="rows: " + ", ".join(MODELS), path=figure)  # fmt: skip
        plt.close(fig)
    return rows


def run_levels(epochs: int, figure: Path | None) -> list[dict]:
    """The 17-level digits (bits/dim) and the grammar text (bits/char)."""
    digits = data.load("digits")
    rows = []
    for label, name, hparams in LEVEL_MODELS:
        model = models.create(name, digits.info, **hparams)
        metrics, seconds = _fit(model, digits, epochs, BATCH, 0.005)
        rows.append({"model": label, "bits": metrics["test_bpd"], "seconds_per_epoch": seconds,
                     "accuracy": metrics.get("test_accuracy"),
                     **sample_scores.of_model(model, digits)})  # fmt: skip
    if figure is not None:  # the last model is the conditional one: one row per class
        import matplotlib.pyplot as plt

        images = model.sample(80, np.random.default_rng(0), y=np.repeat(np.arange(10), 8))
        fig = viz.image_grid(images, levels=17, columns=8, path=figure,
                             title=f"{label}: one row per class")  # fmt: skip
        plt.close(fig)
    text = data.load("grammar")
    lm = models.create("transformer", text.info)
    metrics, seconds = _fit(lm, text, max(1, epochs // 20), 32, 0.003)
    per_char = metrics["test_nll"] / text.info.shape[0] / np.log(2)
    rows.append({"model": "Transformer, grammar text", "bits": per_char,
                 "seconds_per_epoch": seconds, "accuracy": None,
                 "entropy_rate": grammar.entropy_rate() / np.log(2)})  # fmt: skip
    return rows


def print_levels(epochs: int, figure: Path | None) -> None:
    print(f"17-level 8x8 digits, {epochs} epochs, batch 64, Adam lr 0.005 (bits/dim); "
          f"grammar text, {max(1, epochs // 20)} epochs (bits/char)")  # fmt: skip
    print(f"  {'model':36s} {'bits':>6s} {'s/epoch':>8s} {sample_scores.header()}  notes")
    floor = sample_scores.cells(sample_scores.of_training_images(data.load("digits")))
    print(f"  {'the training images':36s} {'':6s} {'':8s} {floor}")
    for r in run_levels(epochs, figure):
        if "entropy_rate" in r:
            gap = r["bits"] - r["entropy_rate"]
            notes = f"entropy rate {r['entropy_rate']:.3f}, KL gap {gap:.3f} bits/char"
            scores = " " * len(sample_scores.header())
        else:
            notes = "" if r["accuracy"] is None else f"Bayes accuracy {r['accuracy']:.1%}"
            scores = sample_scores.cells(r)
        seconds = r["seconds_per_epoch"]
        print(f"  {r['model']:36s} {r['bits']:6.3f} {seconds:8.2f} {scores}  {notes}")


def print_binary(epochs: int, figure: Path | None) -> None:
    rows = run(epochs, figure)
    print(f"binary 8x8 digits, {epochs} epochs, batch 64, Adam lr 0.005")
    print(f"  {'model':16s} {'test NLL':>9s} {'train NLL':>10s} {'s/epoch':>8s} {'params':>8s} "
          f"{sample_scores.header()}")  # fmt: skip
    floor = sample_scores.cells(sample_scores.of_training_images(data.load("digits_binary")))
    print(f"  {'training images':16s} {'':9s} {'':10s} {'':8s} {'':8s} {floor}")
    for r in rows:
        print(f"  {r['model']:16s} {r['test_nll']:9.2f} {r['train_nll']:10.2f} "
              f"{r['seconds_per_epoch']:8.2f} {r['parameters']:8d} "
              f"{sample_scores.cells(r)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.autoregressive")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--levels", action="store_true",
                        help="the 17-level digits and the grammar text instead")  # fmt: skip
    args = parser.parse_args()
    (print_levels if args.levels else print_binary)(args.epochs, args.figure)


if __name__ == "__main__":
    main()
