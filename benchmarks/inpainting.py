"""A conditional VAE that inpaints the bottom half of the shapes scenes (issue 6's figure).

The 16x16 RGB scenes are rescaled to [0, 1] and modelled as continuous (a Gaussian p(x | z,
x_top) with a learned scale per pixel); the VAE is convolutional and conditioned on the top
half. The figure shows, for eight test scenes: the given top half, three completions (three
draws of z, each decoded to its mean), and the true scene. Prints the test ELBO of
log p(x | x_top) and the mean squared error of the first completion's bottom half.

Run: python -m benchmarks.inpainting [--steps N] [--figure PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scratchgen import data, models, train, viz


def run(steps: int, figure: Path | None) -> dict[str, float]:
    shapes = data.load("shapes")
    scenes = data.Dataset("shapes_continuous", shapes.train / 255.0, shapes.test / 255.0,
                          data.DataInfo(shapes.info.shape, "continuous"))  # fmt: skip
    model = models.create("vae", scenes.info, latent=32, arch="conv", filters=32,
                          hidden=(256,), inpaint="top", eval_samples=10)  # fmt: skip
    metrics = train.fit(model, scenes, progress=False, steps=steps, batch_size=64, lr=2e-3,
                        eval_every=10**9)  # fmt: skip
    given = scenes.test[:8]
    rng = np.random.default_rng(0)
    completions = []
    for _ in range(3):  # each completion: one z per scene, decoded to its mean
        image = model.decode_mean(model.prior().sample((8,), rng=rng), given)
        image[:, model.observed] = given[:, model.observed]
        completions.append(image)
    bottom = ~model.observed
    error = float(np.mean((completions[0][:, bottom] - given[:, bottom]) ** 2))
    if figure is not None:
        top_only = np.where(model.observed, given, 0.0)
        rows = np.concatenate([top_only, *completions, given])
        import matplotlib.pyplot as plt

        fig = viz.image_grid(rows, columns=8, title="given top half; three completions; truth",
                             path=figure)  # fmt: skip
        plt.close(fig)
    return {"test_elbo": metrics["test_elbo"], "bottom_mse": error, "seconds": metrics["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inpainting")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()
    result = run(args.steps, args.figure)
    print(f"shapes, conditional VAE on the top half, {args.steps} steps: test ELBO of "
          f"log p(x | x_top) {result['test_elbo']:.1f} nats, mean squared error of the completed "
          f"bottom half {result['bottom_mse']:.4f}, {result['seconds']:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
