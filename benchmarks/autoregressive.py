"""Autoregressive models on the binary 8x8 digits under one fixed training budget.

Prints test NLL (nats per image), train NLL (the gap shows overfitting: the set has 1438
training images), and seconds per epoch; saves a figure of samples from each model.
Run: python -m benchmarks.autoregressive [--epochs N] [--figure PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from scratchgen import data, models, train, viz
from scratchgen.train import evaluate

MODELS = {
    "fvsbn": {},
    "nade": {"hidden": 64},
    "made": {"hidden": (64, 64), "num_masks": 4},
    "pixelcnn": {"filters": 16, "layers": 3, "kernel_size": 5},
    "gated_pixelcnn": {"filters": 16, "layers": 3, "kernel_size": 5},
}


def run(epochs: int, figure: Path | None) -> list[dict]:
    digits = data.load("digits_binary")
    batch = 64
    steps = epochs * (len(digits.train) // batch)
    rows, samples = [], []
    for name, hparams in MODELS.items():
        model = models.create(name, digits.info, **hparams)
        start = time.perf_counter()
        metrics = train.fit(model, digits, progress=False, steps=steps, batch_size=batch, lr=0.005,
                            eval_every=10**9)  # fmt: skip
        seconds = time.perf_counter() - start
        train_nll = evaluate(model, digits.train)["test_nll"]
        rows.append({
            "model": name, "test_nll": metrics["test_nll"], "train_nll": train_nll,
            "seconds_per_epoch": seconds / epochs, "parameters": model.num_parameters(),
        })  # fmt: skip
        samples.append(model.sample(8, np.random.default_rng(0)))
    if figure is not None:
        import matplotlib.pyplot as plt

        fig = viz.image_grid(np.concatenate(samples), levels=2, columns=8,
                             title="rows: " + ", ".join(MODELS), path=figure)  # fmt: skip
        plt.close(fig)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.autoregressive")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()
    rows = run(args.epochs, args.figure)
    print(f"binary 8x8 digits, {args.epochs} epochs, batch 64, Adam lr 0.005")
    print(f"  {'model':16s} {'test NLL':>9s} {'train NLL':>10s} {'s/epoch':>8s} {'params':>8s}")
    for r in rows:
        print(f"  {r['model']:16s} {r['test_nll']:9.2f} {r['train_nll']:10.2f} "
              f"{r['seconds_per_epoch']:8.2f} {r['parameters']:8d}")  # fmt: skip


if __name__ == "__main__":
    main()
